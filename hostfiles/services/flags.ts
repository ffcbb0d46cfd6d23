/**
 * Command-line flags of each service, for the systemd units' ExecStart (`<bin> <flags...>`). Settings that the
 * services only take as flags (Prometheus retention, listen addresses, Alertmanager clustering) live here so the
 * units and the config files cannot disagree.
 */
import type { StackConfig } from "../../config/stack-config";
import type { HostPair } from "../../layout/host-file";
import { ALERTMANAGER_CLUSTER_PORT, GRAFANA_HOME, SERVICES, TEXTFILE_DIR } from "../../layout/host-layout";
import { loopback } from "./common";

/**
 * Share (percent) of the data volume's filesystem Prometheus may fill before size-based retention deletes the
 * oldest blocks. The size itself is computed at every start from the filesystem (host-agent/prometheus-start.sh),
 * not from the configured volume size: a volume grown in EBS but not yet in XFS keeps the real, smaller limit.
 *
 * The volume also holds Loki's WAL, TSDB index and caches, Tempo's WAL, live-store and metrics-generator WAL,
 * Grafana's database and plugins, the collector's persistent sending queues and Alertmanager's silences. The
 * collector's queues are bounded in bytes (OTELCOL_QUEUE_SHARE each) and Loki throttles writes when the disk is
 * LOKI_WAL_DISK_FULL_THRESHOLD full; the rest is bounded by time (WAL flushes, block uploads to S3). Prometheus at
 * 60 % keeps the whole volume under the ~80 % the TSDB docs recommend, and the DataVolumeFillingUp alert catches
 * the case when the others do not stay within their share.
 */
export const PROMETHEUS_VOLUME_SHARE_PERCENT = 60;

/** Flags of the Prometheus binary; `--storage.tsdb.retention.size` is added at start by prometheus-start. */
export function prometheusFlags(cfg: Pick<StackConfig, "retention">): string[] {
  const s = SERVICES.prometheus;
  return [
    `--config.file=${s.config}`,
    `--storage.tsdb.path=${s.dataDir}`,
    `--storage.tsdb.retention.time=${cfg.retention.metrics.text}`,
    `--web.listen-address=${loopback(s.ports.http)}`,
    // POST /-/reload: the config renderer's `reload` action.
    "--web.enable-lifecycle",
    // Tempo's metrics-generator remote-writes service-graph and span metrics.
    "--web.enable-remote-write-receiver",
    // Keeps exemplars (trace ids) from the collector's OpenMetrics endpoint for Grafana's metric→trace links.
    "--enable-feature=exemplar-storage",
  ];
}

/** How often Alertmanager writes silences and its notification log to the data volume. */
export const ALERTMANAGER_SNAPSHOT_INTERVAL = "1m";

export function alertmanagerFlags(pair?: HostPair): string[] {
  const s = SERVICES.alertmanager;
  return [
    `--config.file=${s.config}`,
    `--storage.path=${s.dataDir}`,
    `--web.listen-address=${loopback(s.ports.http)}`,
    ...(pair
      ? [
          // The other host's Prometheus sends here (--web.listen-address is repeatable); the pair gossips over
          // the cluster port, each Alertmanager naming the other as its peer (Alertmanager's own clustering).
          `--web.listen-address=${pair.selfIp}:${s.ports.http}`,
          `--cluster.listen-address=${pair.selfIp}:${ALERTMANAGER_CLUSTER_PORT}`,
          `--cluster.peer=${pair.peerIp}:${ALERTMANAGER_CLUSTER_PORT}`,
        ]
      : // Clustering is on by default (0.0.0.0:9094); a single host has no peers, so no gossip port at all.
        ["--cluster.listen-address="]),
    // Silences and the notification log reach disk on clean shutdown and every maintenance interval (default
    // 15m): after a crash or an OOM kill, up to 15 minutes of new silences would be gone. They are small files.
    `--data.maintenance-interval=${ALERTMANAGER_SNAPSHOT_INTERVAL}`,
  ];
}

export function lokiFlags(): string[] {
  return [`-config.file=${SERVICES.loki.config}`, "-target=all"];
}

export function tempoFlags(): string[] {
  // Monolithic mode: every component in one process, no Kafka.
  return [`-config.file=${SERVICES.tempo.config}`, "-target=all"];
}

export function otelcolFlags(): string[] {
  return [`--config=${SERVICES.otelcol.config}`];
}

export function grafanaFlags(): string[] {
  return ["server", `--config=${SERVICES.grafana.config}`, `--homepath=${GRAFANA_HOME}`];
}

export function nodeExporterFlags(): string[] {
  return [
    `--web.listen-address=${loopback(SERVICES.nodeExporter.ports.http)}`,
    // Certificate expiry written by the apply step (node_exporter v1.12.1 collector/textfile.go).
    `--collector.textfile.directory=${TEXTFILE_DIR}`,
  ];
}

/** Every service's flags by name, for the unit renderer and for tests. */
export function serviceFlags(cfg: StackConfig, pair?: HostPair): Record<keyof typeof SERVICES, string[]> {
  return {
    prometheus: prometheusFlags(cfg),
    alertmanager: alertmanagerFlags(pair),
    loki: lokiFlags(),
    tempo: tempoFlags(),
    otelcol: otelcolFlags(),
    grafana: grafanaFlags(),
    nodeExporter: nodeExporterFlags(),
  };
}
