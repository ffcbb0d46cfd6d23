/**
 * tempo.yaml: Tempo 3.x monolithic (`-target=all`, no Kafka), blocks in S3 (instance role), WAL and work files
 * on the data volume. 3.x layout: no `ingester`/`compactor` blocks; the backend scheduler and worker compact and
 * apply retention.
 */
import type { StackConfig } from "../../config/stack-config";
import { goDuration } from "../../config/duration";
import { SERVICES } from "../../layout/host-layout";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { yamlFile } from "../templates";
import { dskitServer, LOOPBACK, loopback, MEMBERLIST_PORTS, TRACE_ID_LABEL } from "./common";
import { configFile } from "../../layout/host-file";

export interface TempoConfigView {
  region: string;
  bucket: string;
  dataDir: string;
  blockRetention: string;
  prometheusRemoteWriteUrl: string;
  /**
   * A pair host's own prefix in the shared bucket (docs/ha-pair.md, "Tempo"): each host's Tempo is a monolith of its
   * own over its own objects, because Tempo 3 does not support two `-target=all` instances on one store.
   */
  objectPrefix?: string;
}

/** The prefix of a pair host's Tempo objects in the shared bucket. */
export function tempoPairPrefix(index: number): string {
  return `host-${index}`;
}

export function tempoView(cfg: StackConfig, ctx: BundleContext): TempoConfigView {
  return {
    region: cfg.region,
    bucket: ctx.tempoBucket,
    dataDir: SERVICES.tempo.dataDir,
    blockRetention: goDuration(cfg.retention.traces),
    prometheusRemoteWriteUrl: `http://${loopback(SERVICES.prometheus.ports.http)}/api/v1/write`,
    ...(ctx.pair ? { objectPrefix: tempoPairPrefix(ctx.pair.index) } : {}),
  };
}

/**
 * Rings default to the address of eth0/en0, which EC2 instances do not have (ens5): pin every ring member to
 * loopback, as everything runs in this one process.
 */
function localRing(): { instance_addr: string } {
  // A fresh object per use: the YAML serialiser would turn a shared one into an anchor and aliases.
  return { instance_addr: LOOPBACK };
}

export function tempoConfig(view: TempoConfigView): Record<string, unknown> {
  const dir = view.dataDir;
  const ports = SERVICES.tempo.ports;
  const compaction = () => ({ block_retention: view.blockRetention });
  return {
    server: dskitServer(ports),
    distributor: {
      // Only the local collector sends spans; 4317/4318 belong to it.
      receivers: {
        otlp: {
          protocols: {
            grpc: { endpoint: loopback(ports.otlpGrpc) },
            http: { endpoint: loopback(ports.otlpHttp) },
          },
        },
      },
    },
    querier: {
      frontend_worker: { frontend_address: loopback(ports.grpc) },
    },
    live_store: {
      ring: localRing(),
      wal: { path: `${dir}/live-store/traces` },
      shutdown_marker_dir: `${dir}/live-store/shutdown-marker`,
    },
    metrics_generator: {
      ring: localRing(),
      registry: { external_labels: { source: "tempo" } },
      storage: {
        path: `${dir}/generator/wal`,
        // Service-graph and span metrics for Grafana's service map; exemplars link them back to traces.
        remote_write: [{ url: view.prometheusRemoteWriteUrl, send_exemplars: true }],
      },
    },
    // Retention is a compaction setting read by both the scheduler (which plans retention jobs) and the worker.
    backend_scheduler: {
      local_work_path: `${dir}/backend-scheduler`,
      provider: { compaction: { compaction: compaction() } },
    },
    backend_worker: {
      // In-process components still talk over gRPC: name Tempo's own port, never a default (9095 is Loki's here).
      backend_scheduler_addr: loopback(ports.grpc),
      ring: localRing(),
      compaction: compaction(),
    },
    storage: {
      trace: {
        backend: "s3",
        // No keys: the instance role's credentials come from IMDSv2.
        s3: {
          bucket: view.bucket,
          // A pair host's objects live under its own prefix (tempodb/backend/s3 `prefix`: every key is nested below it).
          ...(view.objectPrefix ? { prefix: view.objectPrefix } : {}),
          region: view.region,
          endpoint: `s3.${view.region}.amazonaws.com`,
        },
        wal: { path: `${dir}/wal` },
      },
    },
    overrides: {
      defaults: {
        metrics_generator: {
          processors: ["service-graphs", "span-metrics"],
          // Exemplars would be labelled `traceID` (modules/generator/registry/histogram.go); the collector's are
          // `trace_id`: one name lets one Grafana exemplar link serve both.
          trace_id_label_name: TRACE_ID_LABEL,
        },
      },
    },
    memberlist: { bind_addr: [LOOPBACK], bind_port: MEMBERLIST_PORTS.tempo },
    usage_report: { reporting_enabled: false },
  };
}

export function tempoFiles(cfg: StackConfig, ctx: BundleContext): HostFile[] {
  const header = [
    "Rendered by hostfiles/services/tempo.ts; do not edit on the host. Applies on `systemctl restart tempo`.",
    "Spans arrive from the collector over OTLP gRPC on 127.0.0.1:4417.",
  ];
  const content = yamlFile(header, tempoConfig(tempoView(cfg, ctx)));
  return [configFile("tempo", SERVICES.tempo.config, content, "restart")];
}
