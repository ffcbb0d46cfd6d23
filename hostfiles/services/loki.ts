/** loki.yaml: Loki 3.x single binary, TSDB index and chunks in S3 (instance role), local state on the data volume. */
import type { StackConfig } from "../../components/config";
import { goDuration } from "../../components/duration";
import { SERVICES } from "../layout";
import type { HostContext, HostFile } from "../types";
import { renderTemplate, yamlBlock } from "../templates";
import { configFile, dskitServer, LOOPBACK, MEMBERLIST_PORTS } from "./common";

/** First day of the v13/tsdb schema. A later schema change adds an entry with a future date; never edit this one. */
export const LOKI_SCHEMA_FROM = "2024-04-01";

export interface LokiConfigView {
  region: string;
  bucket: string;
  dataDir: string;
  retentionPeriod: string;
}

export function lokiView(cfg: StackConfig, ctx: HostContext): LokiConfigView {
  return {
    region: cfg.region,
    bucket: ctx.lokiBucket,
    dataDir: SERVICES.loki.dataDir,
    retentionPeriod: goDuration(cfg.retention.logs),
  };
}

export function lokiConfig(view: LokiConfigView): Record<string, unknown> {
  const dir = view.dataDir;
  const ports = SERVICES.loki.ports;
  return {
    // One tenant ("fake"): the collector is the only writer and Grafana the only reader, both local.
    auth_enabled: false,
    server: dskitServer(ports),
    common: {
      // Without it the WAL and the compactor work in relative paths (the unit's working directory).
      path_prefix: dir,
      replication_factor: 1,
      instance_addr: LOOPBACK,
      // One process: rings live in memory, no gossip needed.
      ring: { kvstore: { store: "inmemory" } },
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
      wal: { enabled: true, dir: `${dir}/wal` },
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
    memberlist: { bind_addr: [LOOPBACK], bind_port: MEMBERLIST_PORTS.loki },
    analytics: { reporting_enabled: false },
  };
}

export function lokiFiles(cfg: StackConfig, ctx: HostContext): HostFile[] {
  const content = renderTemplate("services/loki.yaml.hbs", { config: yamlBlock(lokiConfig(lokiView(cfg, ctx))) });
  return [configFile("loki", SERVICES.loki.config, content, "restart")];
}
