/**
 * Remote write to Amazon Managed Service for Prometheus (`remoteWrite`, docs/remote-write.md): the remote_write
 * entry of prometheus.yml, the labels AMP deduplicates HA replicas by, the alerts about the queue, and the Grafana
 * data source that reads the workspace. Pure: config and context in, data out. Nothing here is rendered when
 * `remoteWrite` is absent.
 */
import type { StackConfig } from "../../config/stack-config";
import { PROMETHEUS_RULES_DIR } from "../../layout/host-layout";
import { configFile, type BundleContext, type HostFile } from "../../layout/host-file";
import { ruleFileText, type RuleGroup } from "../../rules/rule-file";

export const REMOTE_WRITE_ALERTS_FILE = `${PROMETHEUS_RULES_DIR}/remote-write.yml`;
/** remote_write `name`: the `remote_name` label of Prometheus' prometheus_remote_storage_* metrics. */
export const REMOTE_WRITE_NAME = "amp";

/**
 * AMP's ingest limit per workspace (API reference, RemoteWrite: "an ingestion rate of 70,000 samples per second and
 * an ingestion burst size of 1,000,000 samples"). Sending faster only earns HTTP 429.
 */
export const AMP_INGEST_SAMPLES_PER_SECOND = 70_000;

/**
 * queue_config, sized for one Prometheus of this stack writing to AMP. Every key exists with the same meaning in
 * Prometheus 2.42 (the test machines) and 3.x (the host; config/config.go QueueConfig at v3.14.0 and main), so the
 * rendered file is the one promtool 2.42 checks.
 *
 * - max_samples_per_send 2000 (Prometheus 3's default; 2.42's is 500): fewer, larger signed requests.
 * - max_shards: enough to reach AMP's ingest limit when a send takes a full second (AMP's usual latency is far
 *   lower), and no more: more shards only meet 429s. 70,000 / 2,000 = 35 (defaults: 200 in 2.42, 50 in 3.x).
 * - capacity 10000 (3.x default; 5 sends per shard): at most 35 × 10,000 samples buffered in memory.
 * - retry_on_http_429 true: AMP throttles with 429; the default (false) drops those samples, true backs off and
 *   keeps them in the WAL.
 */
export const REMOTE_WRITE_QUEUE = {
  capacity: 10_000,
  max_shards: Math.ceil(AMP_INGEST_SAMPLES_PER_SECOND / 2000),
  min_shards: 1,
  max_samples_per_send: 2000,
  batch_send_deadline: "5s",
  min_backoff: "30ms",
  max_backoff: "5s",
  retry_on_http_429: true,
} as const;

/** The workspace's Prometheus endpoint (`…/workspaces/<id>/`), as aws.amp.Workspace's prometheusEndpoint has it. */
export function ampWorkspaceUrl(cfg: Pick<StackConfig, "region" | "remoteWrite">, ctx: Pick<BundleContext, "ampWorkspaceUrl">): string {
  if (ctx.ampWorkspaceUrl) return ctx.ampWorkspaceUrl;
  const id = cfg.remoteWrite?.workspaceId ?? "placeholder-workspace-created-by-pulumi-up";
  return `https://aps-workspaces.${cfg.region}.amazonaws.com/workspaces/${id}/`;
}

/**
 * External labels AMP deduplicates HA replicas by (AMP user guide, "Send high availability data ... with
 * Prometheus"): `cluster` names the group, `__replica__` the replica; AMP keeps one replica's samples, drops the
 * `__replica__` label and keeps `cluster`.
 */
export function ampHaLabels(cfg: Pick<StackConfig, "project" | "stack">, replica: string): Record<string, string> {
  return { cluster: `${cfg.project}-${cfg.stack}`, __replica__: replica };
}

/**
 * Alerts go to Alertmanager with the external labels: without `__replica__` the two replicas' alerts are the same
 * alert, which Alertmanager notifies once.
 */
export const DROP_REPLICA_LABEL = [{ action: "labeldrop", regex: "__replica__" }];

/** The remote_write list of prometheus.yml; SigV4 with only the region: credentials come from the instance role. */
export function remoteWriteEntries(cfg: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl">): Record<string, unknown>[] {
  return [
    {
      name: REMOTE_WRITE_NAME,
      url: `${ampWorkspaceUrl(cfg, ctx)}api/v1/remote_write`,
      sigv4: { region: cfg.region },
      queue_config: { ...REMOTE_WRITE_QUEUE },
    },
  ];
}

const m = (name: string) => `prometheus_remote_storage_${name}`;
const rate = (name: string) => `rate(${m(name)}{remote_name="${REMOTE_WRITE_NAME}"}[5m])`;

/** Alerts about the queue to AMP. Tickets: local alerting does not depend on AMP. */
export const REMOTE_WRITE_ALERT_GROUP: RuleGroup = {
  name: "monitoring-host.remote-write",
  rules: [
    {
      alert: "RemoteWriteBehind",
      labels: { severity: "ticket" },
      // Newest sample appended locally minus newest sample AMP acknowledged (the mixin's expression).
      expr: `(max_over_time(${m("highest_timestamp_in_seconds")}[5m]) - ignoring(remote_name, url) group_right max_over_time(${m("queue_highest_sent_timestamp_seconds")}{remote_name="${REMOTE_WRITE_NAME}"}[5m])) > 300`,
      for: "15m",
      annotations: {
        summary: "Remote write to AMP is {{ $value | humanizeDuration }} behind",
        description:
          "The newest sample AMP has acknowledged is {{ $value | humanizeDuration }} older than the newest sample Prometheus appended. Queries and alerts on AMP see stale data; Prometheus keeps the backlog in its WAL.",
      },
      runbook: { file: "remote-write-behind.md" },
    },
    {
      alert: "RemoteWriteFailing",
      labels: { severity: "ticket" },
      expr: `${rate("samples_failed_total")} / (${rate("samples_failed_total")} + ${rate("samples_total")}) > 0.01`,
      for: "15m",
      annotations: {
        summary: "{{ $value | humanizePercentage }} of the samples sent to AMP fail",
        description:
          "AMP refuses {{ $value | humanizePercentage }} of the samples Prometheus sends (non-retryable errors: permissions, limits, bad samples). Those samples are not in AMP.",
      },
      runbook: { file: "remote-write-failing.md" },
    },
    {
      alert: "RemoteWriteDropping",
      labels: { severity: "ticket" },
      expr: `${rate("samples_dropped_total")} > 0`,
      for: "15m",
      annotations: {
        summary: "Prometheus drops samples meant for AMP",
        description: "{{ $value }} samples per second meant for AMP are dropped before sending (relabelling or a full queue). They are not in AMP.",
      },
      runbook: { file: "remote-write-failing.md" },
    },
    {
      alert: "RemoteWriteShardsMaxedOut",
      labels: { severity: "ticket" },
      expr: `max_over_time(${m("shards_desired")}{remote_name="${REMOTE_WRITE_NAME}"}[5m]) > max_over_time(${m("shards_max")}{remote_name="${REMOTE_WRITE_NAME}"}[5m])`,
      for: "15m",
      annotations: {
        summary: "Remote write to AMP needs more shards than it may use",
        description:
          "Prometheus wants {{ $value }} shards to keep up with its samples, more than max_shards: the stack produces more samples than the queue (sized to AMP's ingest limit) can send.",
      },
      runbook: { file: "remote-write-behind.md" },
    },
  ],
};

export function remoteWriteAlertFiles(cfg: Pick<StackConfig, "remoteWrite" | "runbookBaseUrl">): HostFile[] {
  if (!cfg.remoteWrite) return [];
  const header = [
    "Rendered by hostfiles/services/remote-write.ts; do not edit on the host.",
    "Alerts about remote write to Amazon Managed Service for Prometheus; each links its runbook in docs/runbooks/.",
  ];
  return [configFile("prometheus", REMOTE_WRITE_ALERTS_FILE, ruleFileText(header, [REMOTE_WRITE_ALERT_GROUP], cfg), "reload")];
}
