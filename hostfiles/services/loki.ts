/** loki.yaml: Loki 3.x single binary, TSDB index and chunks in S3 (instance role), local state on the data volume. */
import type { StackConfig } from "../../config/stack-config";
import { goDuration } from "../../config/duration";
import { DATA_MOUNT, LOKI_RULER, SERVICES } from "../../layout/host-layout";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { yamlFile } from "../templates";
import { dskitServer, LOOPBACK, loopback, MEMBERLIST_PORTS } from "./common";
import { configFile } from "../../layout/host-file";

/** First day of the v13/tsdb schema. A later schema change adds an entry with a future date; never edit this one. */
export const LOKI_SCHEMA_FROM = "2024-04-01";


export interface LokiConfigView {
  region: string;
  bucket: string;
  dataDir: string;
  retentionPeriod: string;
  /** Added to every alert the ruler sends, like Prometheus' external labels (so routing sees the same labels). */
  externalLabels: Record<string, string>;
  alertmanagerUrl: string;
  /** A pair host's own and its peer's addresses (docs/ha-pair.md): the two Loki processes form one ring. */
  pair?: { selfIp: string; peerIp: string };
}

/** Share of the data volume in use at which Loki's WAL refuses more writes (below DataVolumeAlmostFull's 95 %). */
export const LOKI_WAL_DISK_FULL_THRESHOLD = 0.85;

export function lokiView(cfg: StackConfig, ctx: BundleContext): LokiConfigView {
  return {
    region: cfg.region,
    bucket: ctx.lokiBucket,
    dataDir: SERVICES.loki.dataDir,
    retentionPeriod: goDuration(cfg.retention.logs),
    externalLabels: { environment: cfg.environment, stack: cfg.stack },
    alertmanagerUrl: `http://${loopback(SERVICES.alertmanager.ports.http)}`,
    ...(ctx.pair ? { pair: { selfIp: ctx.pair.selfIp, peerIp: ctx.pair.peerIp } } : {}),
  };
}

/**
 * How the two Loki of a pair share the bucket: one ring over memberlist (docs/ha-pair.md, "Loki"). Both are whole
 * single binaries; the ring makes them one Loki: each stream has one ingester (replication factor 1: with 2, dskit
 * needs both replicas to write, `minSuccess = RF/2 + 1`), queriers and rulers ask both ingesters, and the compactor
 * ring lets exactly one of them compact and apply retention. gRPC and gossip listen on the host's own address (the
 * other host dials them); HTTP stays on loopback (collector, Grafana and health checks are local).
 */
function lokiPair(pair: NonNullable<LokiConfigView["pair"]>) {
  const port = MEMBERLIST_PORTS.loki;
  return {
    grpcListenAddress: pair.selfIp,
    instanceAddr: pair.selfIp,
    ring: { kvstore: { store: "memberlist" } },
    memberlist: { bind_addr: [pair.selfIp], bind_port: port, join_members: [`${pair.peerIp}:${port}`] },
  };
}

export function lokiConfig(view: LokiConfigView): Record<string, unknown> {
  const dir = view.dataDir;
  const ports = SERVICES.loki.ports;
  const pair = view.pair ? lokiPair(view.pair) : undefined;
  return {
    // One tenant ("fake"): the collector is the only writer and Grafana the only reader, both local.
    auth_enabled: false,
    server: pair ? { ...dskitServer(ports), grpc_listen_address: pair.grpcListenAddress } : dskitServer(ports),
    common: {
      // Without it the WAL and the compactor work in relative paths (the unit's working directory).
      path_prefix: dir,
      replication_factor: 1,
      instance_addr: pair ? pair.instanceAddr : LOOPBACK,
      // One process: rings live in memory, no gossip needed (a pair: one ring over memberlist, lokiPair).
      ring: pair ? pair.ring : { kvstore: { store: "inmemory" } },
      // No keys: the AWS SDK takes the instance role's credentials from IMDSv2.
      storage: { s3: { region: view.region, bucketnames: view.bucket } },
    },
    schema_config: {
      configs: [
        {
          from: LOKI_SCHEMA_FROM,
          store: "tsdb",
          object_store: "s3",
          schema: "v13",
          // Retention deletes whole index periods: it needs 24h.
          index: { prefix: "index_", period: "24h" },
        },
      ],
    },
    storage_config: {
      tsdb_shipper: {
        active_index_directory: `${dir}/tsdb-index`,
        cache_location: `${dir}/tsdb-cache`,
      },
    },
    ingester: {
      // Loki bounds its WAL by disk usage, not bytes: above this share of the data volume in use it throttles
      // writes instead of filling the disk (pkg/ingester/wal.go `disk_full_threshold`, default 0.90).
      wal: { enabled: true, dir: `${dir}/wal`, disk_full_threshold: LOKI_WAL_DISK_FULL_THRESHOLD },
      // A pair: a host that stops heartbeating leaves the ring after the ring's heartbeat timeout, so the streams it
      // owned go to the other host instead of failing until it returns (its WAL is replayed when it does).
      ...(pair ? { autoforget_unhealthy: true } : {}),
    },
    compactor: {
      working_directory: `${dir}/compactor`,
      retention_enabled: true,
      // Required with retention: delete requests are stored next to the chunks.
      delete_request_store: "s3",
    },
    limits_config: {
      retention_period: view.retentionPeriod,
      // OTLP resource and log attributes that are not index labels become structured metadata.
      allow_structured_metadata: true,
    },
    ruler: {
      // Explicit: otherwise the common S3 storage would become the rule storage too (applyStorageConfig in
      // pkg/loki/config_wrapper.go); keys given in the file win over those derived from `common`.
      storage: { type: "local", local: { directory: LOKI_RULER.storageDir } },
      rule_path: LOKI_RULER.rulePath,
      evaluation_interval: LOKI_RULER.evaluationInterval,
      poll_interval: LOKI_RULER.pollInterval,
      alertmanager_url: view.alertmanagerUrl,
      // Alertmanager's v1 API is gone since 0.27.
      enable_alertmanager_v2: true,
      external_labels: view.externalLabels,
    },
    memberlist: pair ? pair.memberlist : { bind_addr: [LOOPBACK], bind_port: MEMBERLIST_PORTS.loki },
    analytics: { reporting_enabled: false },
  };
}

export function lokiFiles(cfg: StackConfig, ctx: BundleContext): HostFile[] {
  const header = [
    "Rendered by hostfiles/services/loki.ts; do not edit on the host. Applies on `systemctl restart loki`.",
    "Logs arrive from the collector over OTLP (POST http://127.0.0.1:3100/otlp/v1/logs).",
  ];
  const content = yamlFile(header, lokiConfig(lokiView(cfg, ctx)));
  return [configFile("loki", SERVICES.loki.config, content, "restart")];
}
