/**
 * The collector's config.yaml: OTLP in (TLS, the only listeners reachable from the VPC), then
 * memory_limiter → batch, then metrics to Prometheus, traces to Tempo, logs to Loki.
 *
 * Metrics leave through the `prometheus` exporter (pull, 127.0.0.1:8889) rather than prometheusremotewrite:
 * Prometheus then sees the exporter as a target (`up{job="otelcol-apps"}` alerts when it breaks), keeps
 * exemplars over OpenMetrics for metric→trace links, and needs no write endpoint for applications' data.
 * The price: metrics are not queued while Prometheus is down (a scrape gap), whereas logs and traces are.
 */
import type { StackConfig } from "../../config/stack-config";
import { configDir, SERVICE_UNITS, SERVICES } from "../../layout/host-layout";
import { SECRET_IDS, secretFiles } from "../secrets";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { yamlFile } from "../templates";
import { LOOPBACK, loopback } from "./common";
import { STACK_JOBS } from "./prometheus";
import { HOST_LOG_NAMESPACE, HOST_LOG_SERVICES } from "../../config/log-alert-defaults";
import { configFile } from "../../layout/host-file";

/** Public server certificate of the OTLP receivers (the key is a secret file, see hostfiles/secrets.ts). */
export const OTLP_SERVER_CERT_PATH = `${configDir("otelcol")}/tls/otlp-server.crt`;
/** The per-application client CAs (components/otlp-tls.ts): a sender must present a certificate one of them signed. */
export const OTLP_CLIENT_CA_PATH = `${configDir("otelcol")}/tls/otlp-clients-ca.crt`;

/**
 * Series Prometheus itself writes for every scrape target, and `target_info`, which the exporter derives from an
 * application's resource: an OTLP sender must not write them (SloServiceDown watches `target_info`/`up`).
 * Matched on the OTLP name, before the exporter turns `.` into `_`.
 */
export const RESERVED_METRIC_NAMES = "^(up|target[._]info|scrape[._].*)$";

/** Persistent sending queues survive a collector restart while Loki or Tempo are down. */
export const OTELCOL_QUEUE_DIR = `${SERVICES.otelcol.dataDir}/queue`;

export const QUEUE_STORAGE = "file_storage/queue";
const RESERVED_LABELS_PROCESSOR = "attributes/reserved-labels";
const RESERVED_SERIES_PROCESSOR = "filter/reserved-series";
/** Drops applications' log records that claim to come from the host's own services (logs/host is theirs). */
const RESERVED_LOGS_PROCESSOR = "filter/reserved-logs";

export interface OtelcolConfigView {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  queueDir: string;
  /** Bound of each persistent sending queue, in bytes of serialized telemetry (exporterhelper `sizer: bytes`). */
  queueBytes: number;
  /** Scrape jobs of the stack: no application may take one of these names as its `service.name` (its `job`). */
  reservedJobs: string[];
}

/** How long the collector keeps an application's metrics after its last export (docs/metrics.md). */
export const OTEL_APP_METRIC_EXPIRATION = "3m";

export function otelcolView(cfg: StackConfig): OtelcolConfigView {
  const key = secretFiles(cfg).find((f) => f.id === SECRET_IDS.otlpTlsKey);
  if (!key) throw new Error(`secrets manifest has no "${SECRET_IDS.otlpTlsKey}" entry: the OTLP receivers need their TLS key`);
  return {
    certFile: OTLP_SERVER_CERT_PATH,
    keyFile: key.path,
    clientCaFile: OTLP_CLIENT_CA_PATH,
    queueDir: OTELCOL_QUEUE_DIR,
    queueBytes: otelcolQueueBytes(cfg),
    reservedJobs: Object.values(STACK_JOBS),
  };
}

/** The collector refuses data (clients retry) beyond a fifth of the machine's memory (see the comment below). The app-side agent, a guest on an application instance, uses the same. */
export const MEMORY_LIMITER = { check_interval: "1s", limit_percentage: 20, spike_limit_percentage: 5 };

/** The `file_storage` extension holding the persistent sending queues, in `dir`. */
export function queueStorage(dir: string) {
  return {
    directory: dir,
    // The unit owns the service's data directory; the queue subdirectory is the extension's to create.
    create_directory: true,
    timeout: "10s",
    // Reclaims space after a backlog drained.
    compaction: { on_start: true, on_rebound: true, directory: dir },
  };
}

/**
 * Share of the data volume each persistent sending queue (Tempo's, Loki's) may hold while its backend is down:
 * bounded in bytes (exporterhelper `sizer: bytes`, `queue_size` in bytes; opentelemetry-collector v0.149.0
 * exporter/exporterhelper/internal/queuebatch/config.go), not in requests of any size. Beyond it new data is
 * refused (CollectorQueueAlmostFull pages at 80 %).
 */
export const OTELCOL_QUEUE_SHARE = 0.05;

export function otelcolQueueBytes(cfg: Pick<StackConfig, "dataVolume">): number {
  return Math.floor(cfg.dataVolume.sizeGiB * 2 ** 30 * OTELCOL_QUEUE_SHARE);
}

/** Sending queue on disk, bounded in bytes, plus unbounded retries: data waits instead of being dropped. */
export function durableDelivery(queueBytes: number) {
  return {
    sending_queue: { enabled: true, storage: QUEUE_STORAGE, sizer: "bytes", queue_size: queueBytes },
    retry_on_failure: { enabled: true, initial_interval: "5s", max_interval: "30s", max_elapsed_time: "0s" },
  };
}

/**
 * The host's own services log to journald; one journald receiver per unit ships its lines to Loki with the resource
 * attributes `service.name` and `service.namespace` (index labels there, which the default log alerts select by).
 * The receiver runs `journalctl --output=json` and makes the whole journal entry the body
 * (pkg/stanza/operator/input/journald in opentelemetry-collector-contrib); `move` keeps only MESSAGE, the line the
 * service wrote, so Loki's level detection reads the service's own `level=` field. The cursor is kept in the file
 * storage: after a restart the receiver resumes where it stopped instead of skipping lines.
 */
export function journaldReceivers(storage: string): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(HOST_LOG_SERVICES).map(([service, unit]) => [
      `journald/${service}`,
      {
        units: [unit],
        priority: "info",
        storage,
        resource: { "service.name": service, "service.namespace": HOST_LOG_NAMESPACE },
        operators: [{ type: "move", from: "body.MESSAGE", to: "body" }],
      },
    ]),
  );
}

export function otelcolConfig(view: OtelcolConfigView): Record<string, unknown> {
  const p = SERVICES.otelcol.ports;
  // client_ca_file: every sender must present a client certificate signed by one of the applications' CAs
  // (configtls.ServerConfig: RequireAndVerifyClientCert).
  const tls = () => ({ cert_file: view.certFile, key_file: view.keyFile, client_ca_file: view.clientCaFile, min_version: "1.2" });
  const pipeline = (exporter: string, guards: string[] = []) => ({
    receivers: ["otlp"],
    // memory_limiter first: it refuses data before anything else buffers it.
    processors: ["memory_limiter", ...guards, "batch"],
    exporters: [exporter],
  });
  const escape = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const journald = journaldReceivers(QUEUE_STORAGE);
  return {
    extensions: {
      health_check: { endpoint: loopback(p.health) },
      [QUEUE_STORAGE]: queueStorage(view.queueDir),
    },
    receivers: {
      ...journald,
      otlp: {
        protocols: {
          // The only listeners on all interfaces; the security group limits who reaches them.
          grpc: { endpoint: `0.0.0.0:${p.otlpGrpc}`, tls: tls() },
          http: { endpoint: `0.0.0.0:${p.otlpHttp}`, tls: tls() },
        },
      },
    },
    processors: {
      // Six services share the host: the collector refuses data (clients retry) beyond a fifth of the host's
      // memory. The limiter reads it from /proc/meminfo (its cgroup lookup only sees a container's own
      // /sys/fs/cgroup/memory.max, never a unit's MemoryMax=), which is why otelcol.service keeps ProcSubset=all.
      memory_limiter: MEMORY_LIMITER,
      batch: { send_batch_size: 8192, timeout: "5s" },
      // Prometheus scrapes the exporter with honor_labels (applications keep their own job/instance): a data
      // point's own `job`/`instance` attribute would override them, so senders' copies are removed.
      [RESERVED_LABELS_PROCESSOR]: {
        actions: ["job", "instance"].map((key) => ({ key, action: "delete" })),
      },
      // Drops what would impersonate Prometheus' own series or the stack's jobs: `up`, `target_info`, `scrape_*`,
      // and any metric of a resource whose service.name (→ job) is a stack job.
      [RESERVED_SERIES_PROCESSOR]: {
        error_mode: "ignore",
        metrics: {
          metric: [
            `IsMatch(name, "${RESERVED_METRIC_NAMES}")`,
            `IsMatch(resource.attributes["service.name"], "^(${view.reservedJobs.map(escape).join("|")})$")`,
          ],
        },
      },
      // The host's own lines come only from the journald receivers: an application sending OTLP logs with
      // service.namespace "monitoring-host" could otherwise raise (or drown) the host's log alerts.
      [RESERVED_LOGS_PROCESSOR]: {
        error_mode: "ignore",
        logs: { log_record: [`resource.attributes["service.namespace"] == "${HOST_LOG_NAMESPACE}"`] },
      },
    },
    exporters: {
      prometheus: {
        endpoint: loopback(p.prometheusExporter),
        enable_open_metrics: true,
        // Series of applications that stopped sending disappear instead of staying flat forever; with them goes
        // target_info, which SloServiceDown watches. OTel SDKs export every 60 s by default: 3 minutes tolerates two
        // missed exports and pages a silent application within about 4 minutes (the default 5m: 6 minutes).
        metric_expiration: OTEL_APP_METRIC_EXPIRATION,
      },
      "otlp_grpc/tempo": {
        endpoint: loopback(SERVICES.tempo.ports.otlpGrpc),
        tls: { insecure: true },
        ...durableDelivery(view.queueBytes),
      },
      "otlp_http/loki": {
        endpoint: `http://${loopback(SERVICES.loki.ports.http)}/otlp`,
        ...durableDelivery(view.queueBytes),
      },
    },
    service: {
      extensions: ["health_check", QUEUE_STORAGE],
      telemetry: {
        metrics: {
          level: "normal",
          readers: [{ pull: { exporter: { prometheus: { host: LOOPBACK, port: p.metrics } } } }],
        },
      },
      pipelines: {
        metrics: pipeline("prometheus", [RESERVED_LABELS_PROCESSOR, RESERVED_SERIES_PROCESSOR]),
        traces: pipeline("otlp_grpc/tempo"),
        logs: pipeline("otlp_http/loki", [RESERVED_LOGS_PROCESSOR]),
        "logs/host": { ...pipeline("otlp_http/loki"), receivers: Object.keys(journald) },
      },
    },
  };
}

export function otelcolFiles(cfg: StackConfig, ctx: BundleContext): HostFile[] {
  const header = [
    "Rendered by hostfiles/services/otelcol.ts; do not edit on the host. Applies on `systemctl restart otelcol`.",
    "OTLP in on 4317 (gRPC) and 4318 (HTTP) with TLS; metrics → Prometheus (scrapes 127.0.0.1:8889),",
    "traces → Tempo (127.0.0.1:4417), logs → Loki (http://127.0.0.1:3100/otlp).",
  ];
  const content = yamlFile(header, otelcolConfig(otelcolView(cfg)));
  return [
    configFile("otelcol", SERVICES.otelcol.config, content, "restart"),
    ...[
      [OTLP_SERVER_CERT_PATH, ctx.otlpServerCertPem],
      [OTLP_CLIENT_CA_PATH, ctx.otlpClientCaPem],
    ].map(([path, pem]) => ({
      path,
      content: pem.endsWith("\n") ? pem : `${pem}\n`,
      mode: "0644",
      owner: `root:${SERVICES.otelcol.user}`,
      // The receivers load the certificates at start: a new server certificate, or an application added or
      // removed (its CA in or out of the bundle), restarts the collector.
      onChange: { unit: SERVICE_UNITS.otelcol, action: "restart" as const },
    })),
  ];
}
