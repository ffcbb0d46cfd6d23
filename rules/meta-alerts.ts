/**
 * Alerts about the monitoring stack itself, declared as rule groups (rules/rule-file.ts) and written into one rule
 * file in PROMETHEUS_RULES_DIR. Every alert links a runbook in docs/runbooks/ (a test checks each file exists).
 */
import type { StackConfig } from "../config/stack-config";
import { DATA_MOUNT, PROMETHEUS_RULES_DIR, STACK_JOBS } from "../layout/host-layout";
import { configFile, type HostFile } from "../layout/host-file";
import { otelcolRate } from "./otelcol-metrics";
import { alertsOf, ruleFileText, type AlertRule, type RuleGroup } from "./rule-file";

export const META_ALERTS_FILE = `${PROMETHEUS_RULES_DIR}/meta.yml`;

const stackJobs = Object.values(STACK_JOBS).join("|");
const dataFs = `node_filesystem_avail_bytes{mountpoint="${DATA_MOUNT}",fstype!="rootfs"}`;
const dataFsSize = `node_filesystem_size_bytes{mountpoint="${DATA_MOUNT}",fstype!="rootfs"}`;
const rootFs = `node_filesystem_avail_bytes{mountpoint="/",fstype!="rootfs"}`;
const rootFsSize = `node_filesystem_size_bytes{mountpoint="/",fstype!="rootfs"}`;
/** Certificates the host serves (the apply step's textfile, read by node_exporter), and when to warn. */
export const CERT_NOT_AFTER = `monitoring_host_certificate_not_after_seconds{job="${STACK_JOBS.node}"}`;
export const CERT_TICKET_DAYS = 30;
export const CERT_PAGE_DAYS = 7;
export const META_ALERT_GROUPS: RuleGroup[] = [
  {
    name: "monitoring-host.availability",
    rules: [
      {
        alert: "Watchdog",
        labels: { severity: "watchdog" },
        expr: "vector(1)",
        annotations: {
          summary: "Always firing: proves Prometheus → Alertmanager → receiver works",
          description:
            "This alert fires all the time (value {{ $value }}). A dead man's switch outside this host must alarm when it stops arriving.",
        },
        runbook: { file: "watchdog.md" },
      },
      {
        alert: "MonitoringTargetDown",
        labels: { severity: "page" },
        expr: `up{job=~"${stackJobs}"} == 0`,
        for: "5m",
        annotations: {
          summary: "{{ $labels.job }} on the monitoring host cannot be scraped",
          description:
            "Prometheus has failed to scrape {{ $labels.job }} ({{ $labels.instance }}) for 5 minutes (up = {{ $value }}). Telemetry handled by it may be lost.",
        },
        runbook: { file: "monitoring-target-down.md" },
      },
      {
        alert: "ApplicationScrapeTargetDown",
        labels: { severity: "ticket" },
        expr: `up{job!~"${stackJobs}"} == 0`,
        for: "10m",
        annotations: {
          summary: "Application scrape target {{ $labels.job }} ({{ $labels.instance }}) is down",
          description:
            "Prometheus has failed to scrape {{ $labels.instance }} of {{ $labels.job }} for 10 minutes (up = {{ $value }}): no metrics from it.",
        },
        runbook: { file: "application-scrape-target-down.md" },
      },
    ],
  },
  {
    name: "monitoring-host.data-volume",
    rules: [
      {
        alert: "DataVolumeFillingUp",
        labels: { severity: "ticket" },
        expr: `(${dataFs} / ${dataFsSize} < 0.20) and predict_linear(${dataFs}[6h], 4 * 86400) < 0`,
        for: "30m",
        annotations: {
          summary: "The data volume {{ $labels.mountpoint }} will be full within 4 days",
          description: "Only {{ $value | humanizePercentage }} of the data volume is free, and at the rate of the last 6 hours it is full within 4 days.",
        },
        runbook: { file: "data-volume-filling-up.md" },
      },
      {
        alert: "DataVolumeAlmostFull",
        labels: { severity: "page" },
        expr: `${dataFs} / ${dataFsSize} < 0.05`,
        for: "5m",
        annotations: {
          summary: "The data volume {{ $labels.mountpoint }} is almost full",
          description: "Only {{ $value | humanizePercentage }} of the data volume is free. Prometheus, Loki and Tempo stop writing when it is full.",
        },
        runbook: { file: "data-volume-almost-full.md" },
      },
      // The root volume holds the OS, the journal, the host agent's state and the downloaded release archives
      // (/var/lib/monitoring-host): when it is full, bundles and upgrades can no longer be applied.
      {
        alert: "RootVolumeFillingUp",
        labels: { severity: "ticket" },
        expr: `${rootFs} / ${rootFsSize} < 0.15`,
        for: "30m",
        annotations: {
          summary: "The root volume has less than 15 % free",
          description: "Only {{ $value | humanizePercentage }} of the root volume (/) is free. When it is full, new config bundles and releases cannot be applied.",
        },
        runbook: { file: "root-volume-low-on-space.md" },
      },
      {
        alert: "RootVolumeAlmostFull",
        labels: { severity: "page" },
        expr: `${rootFs} / ${rootFsSize} < 0.05`,
        for: "5m",
        annotations: {
          summary: "The root volume is almost full",
          description: "Only {{ $value | humanizePercentage }} of the root volume (/) is free: config changes, upgrades and the journal stop working when it is full.",
        },
        runbook: { file: "root-volume-low-on-space.md" },
      },
    ],
  },
  {
    // The apply step writes each served certificate's notAfter (0 when unreadable) for node_exporter's textfile
    // collector (host-agent/monitoring-apply.sh). `pulumi up` renews the OTLP certificate in its second year.
    name: "monitoring-host.certificates",
    rules: [
      {
        alert: "HostCertificateExpiringSoon",
        labels: { severity: "ticket" },
        expr: `${CERT_NOT_AFTER} - time() < ${CERT_TICKET_DAYS} * 86400`,
        for: "1h",
        annotations: {
          summary: `The certificate {{ $labels.path }} expires within ${CERT_TICKET_DAYS} days`,
          description:
            "{{ $labels.path }} expires in {{ $value | humanizeDuration }}. Any `pulumi up` of the stack renews it; OTLP senders are refused once it has expired.",
        },
        runbook: { file: "host-certificate-expiring.md" },
      },
      {
        alert: "HostCertificateExpiring",
        labels: { severity: "page" },
        expr: `${CERT_NOT_AFTER} - time() < ${CERT_PAGE_DAYS} * 86400`,
        annotations: {
          summary: `The certificate {{ $labels.path }} expires within ${CERT_PAGE_DAYS} days (or has expired)`,
          description:
            "{{ $labels.path }} expires in {{ $value | humanizeDuration }} (negative: expired; a value near -55 years: unreadable). Applications cannot send telemetry once it has expired.",
        },
        runbook: { file: "host-certificate-expiring.md" },
      },
      {
        alert: "HostCertificateExpiryUnknown",
        labels: { severity: "ticket" },
        expr: `absent(${CERT_NOT_AFTER})`,
        for: "30m",
        annotations: {
          summary: "The expiry of the host's certificates is not measured",
          description:
            "No monitoring_host_certificate_not_after_seconds series for 30 minutes (value {{ $value }}): the apply step did not write its textfile, or node_exporter does not read it. Certificate expiry would go unnoticed.",
        },
        runbook: { file: "host-certificate-expiring.md" },
      },
    ],
  },
  {
    name: "monitoring-host.prometheus",
    rules: [
      {
        alert: "PrometheusWalCorruption",
        labels: { severity: "ticket" },
        expr: "increase(prometheus_tsdb_wal_corruptions_total[1h]) > 0",
        annotations: {
          summary: "Prometheus found a corrupted WAL",
          description: "{{ $value }} WAL corruptions in the last hour: recent samples were lost on replay.",
        },
        runbook: { file: "prometheus-wal-corruption.md" },
      },
      {
        alert: "PrometheusTsdbCompactionsFailing",
        labels: { severity: "ticket" },
        expr: "increase(prometheus_tsdb_compactions_failed_total[3h]) > 0",
        annotations: {
          summary: "Prometheus TSDB compactions are failing",
          description: "{{ $value }} compactions failed in the last 3 hours; the head block grows and memory with it.",
        },
        runbook: { file: "prometheus-tsdb-compactions-failing.md" },
      },
      {
        alert: "PrometheusRuleEvaluationFailures",
        labels: { severity: "page" },
        expr: "increase(prometheus_rule_evaluation_failures_total[5m]) > 0",
        for: "10m",
        annotations: {
          summary: "Prometheus fails to evaluate rules in {{ $labels.rule_group }}",
          description: "{{ $value }} rule evaluations failed in 5 minutes: alerts of that group may not fire.",
        },
        runbook: { file: "prometheus-rule-evaluation-failures.md" },
      },
      {
        alert: "PrometheusNotificationsFailing",
        labels: { severity: "page" },
        expr: "rate(prometheus_notifications_errors_total[5m]) > 0",
        for: "10m",
        annotations: {
          summary: "Prometheus cannot send alerts to Alertmanager",
          description: "{{ $value | humanize }} errors per second sending alerts to {{ $labels.alertmanager }}: alerts are not delivered.",
        },
        runbook: { file: "prometheus-notifications-failing.md" },
      },
      {
        alert: "AlertmanagerNotificationsFailing",
        labels: { severity: "page" },
        expr: "rate(alertmanager_notifications_failed_total[5m]) > 0",
        for: "10m",
        annotations: {
          summary: "Alertmanager cannot deliver notifications through {{ $labels.integration }}",
          description: "{{ $value | humanize }} failed notifications per second through {{ $labels.integration }}: a receiver gets no alerts.",
        },
        runbook: { file: "alertmanager-notifications-failing.md" },
      },
    ],
  },
  {
    name: "monitoring-host.collector",
    rules: [
      {
        alert: "CollectorRefusingData",
        labels: { severity: "ticket" },
        expr: `sum by (job, receiver) (${otelcolRate("otelcol_receiver_refused", "5m")}) > 0`,
        for: "10m",
        annotations: {
          summary: "The collector refuses incoming telemetry on {{ $labels.receiver }}",
          description: "{{ $value | humanize }} items per second are refused (usually the memory limiter): senders retry or drop them.",
        },
        runbook: { file: "collector-refusing-data.md" },
      },
      {
        alert: "CollectorExportFailing",
        labels: { severity: "ticket" },
        expr: `sum by (job, exporter) (${otelcolRate("otelcol_exporter_send_failed", "5m")}) > 0`,
        for: "15m",
        annotations: {
          summary: "The collector fails to export to {{ $labels.exporter }}",
          description: "{{ $value | humanize }} items per second fail to export; they wait in the persistent queue until it is full.",
        },
        runbook: { file: "collector-export-failing.md" },
      },
      {
        alert: "CollectorQueueAlmostFull",
        labels: { severity: "page" },
        expr: "max by (job, exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity) > 0.8",
        for: "5m",
        annotations: {
          summary: "The collector's sending queue to {{ $labels.exporter }} is almost full",
          description: "The queue is {{ $value | humanizePercentage }} full; once full, new telemetry is dropped.",
        },
        runbook: { file: "collector-queue-almost-full.md" },
      },
      {
        alert: "CollectorDroppingData",
        labels: { severity: "page" },
        expr: `sum by (job, exporter) (${otelcolRate("otelcol_exporter_enqueue_failed", "5m")}) > 0`,
        for: "5m",
        annotations: {
          summary: "The collector drops telemetry for {{ $labels.exporter }}: its queue is full",
          description: "{{ $value | humanize }} items per second are dropped because the sending queue is full.",
        },
        runbook: { file: "collector-dropping-data.md" },
      },
    ],
  },
  {
    name: "monitoring-host.storage",
    rules: [
      {
        alert: "LokiChunkFlushFailing",
        labels: { severity: "ticket" },
        expr: "sum by (job) (rate(loki_ingester_chunks_flush_failures_total[5m])) > 0",
        for: "15m",
        annotations: {
          summary: "Loki fails to flush chunks to S3",
          description: "{{ $value | humanize }} chunk flushes per second fail; logs stay in memory and the WAL until S3 accepts them.",
        },
        runbook: { file: "loki-chunk-flush-failing.md" },
      },
      {
        alert: "TempoBackendWriteFailing",
        labels: { severity: "ticket" },
        expr: 'sum by (job) (rate(tempodb_backend_request_duration_seconds_count{operation=~"PUT|POST",status_code!~"2.."}[5m])) > 0',
        for: "15m",
        annotations: {
          summary: "Tempo fails to write blocks to S3",
          description: "{{ $value | humanize }} S3 write requests per second fail; traces stay in the local WAL until S3 accepts them.",
        },
        runbook: { file: "tempo-backend-write-failing.md" },
      },
    ],
  },
  {
    // Loki's ruler evaluates the log alerts (rules/log-alert-rules.ts); Prometheus watches it from outside. The metric names are
    // Prometheus' rule-manager and notifier metrics, prefixed `loki_` and labelled `user` by the ruler
    // (pkg/ruler/base/manager_metrics.go and manager.go in Loki).
    name: "monitoring-host.log-alerts",
    rules: [
      {
        alert: "LokiRuleEvaluationFailures",
        labels: { severity: "ticket" },
        expr: "sum by (job, rule_group) (increase(loki_prometheus_rule_evaluation_failures_total[5m])) > 0",
        for: "10m",
        annotations: {
          summary: "Loki's ruler fails to evaluate the log alerts of {{ $labels.rule_group }}",
          description: "{{ $value }} evaluations of log alert rules failed in 5 minutes: those log alerts cannot fire.",
        },
        runbook: { file: "loki-ruler-failing.md" },
      },
      {
        alert: "LokiRulerNotificationsFailing",
        labels: { severity: "ticket" },
        expr: "sum by (job) (rate(loki_prometheus_notifications_errors_total[5m])) > 0",
        for: "10m",
        annotations: {
          summary: "Loki's ruler cannot send log alerts to Alertmanager",
          description: "{{ $value | humanize }} errors per second sending log alerts to Alertmanager: firing log alerts are not delivered.",
        },
        runbook: { file: "loki-ruler-failing.md" },
      },
    ],
  },
];

/** Every meta-alert, flattened. */
export function metaAlerts(): AlertRule[] {
  return alertsOf(META_ALERT_GROUPS);
}

export function metaAlertFiles(cfg: Pick<StackConfig, "runbookBaseUrl">): HostFile[] {
  const header = ["Rendered by rules/meta-alerts.ts; do not edit on the host.", "Alerts about the monitoring host itself; each links its runbook in docs/runbooks/."];
  return [configFile("prometheus", META_ALERTS_FILE, ruleFileText(header, META_ALERT_GROUPS, cfg), "reload")];
}
