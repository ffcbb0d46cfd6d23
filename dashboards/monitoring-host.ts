/**
 * "Monitoring host": the host itself (CPU, memory, data volume use and time to full) and the stack's own
 * components: ingest rates and drops of Prometheus, Loki, Tempo and the collector, rule-evaluation failures,
 * scrape health. Job names come from STACK_JOBS, the data mount from the layout; the metric names are the ones
 * the meta-alerts (rules/meta-alerts.ts) read.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { OTELCOL_SIGNALS, OtelcolSignal, otelcolSignalRate } from "../rules/otelcol-metrics";
import { DATA_MOUNT, STACK_JOBS } from "../layout/host-layout";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { HOST_LOG_NAMESPACE, LOG_ALERT_DEFAULT_FILTER } from "../config/log-alert-defaults";
import { baseDashboard, dashboardLink, DS, finish, lokiQuery, orZero, seriesPanel, statPanel } from "./common";
import { stableUid } from "../layout/dashboard-uid";
import { q } from "../rules/promql";

export const HOST_DASHBOARD_UID = stableUid("monitoring-host");

const j = (job: string) => `job=${q(job)}`;
/** otelcol counters are named with or without `_total` depending on the collector version (as in the meta-alerts). */
/** A collector counter's rate for one signal (both name variants, safe to sum). */
const otelcol = (prefix: string, signal: OtelcolSignal) => otelcolSignalRate(prefix, signal, "$__rate_interval", j(STACK_JOBS.otelcol));
const SIGNALS = OTELCOL_SIGNALS;

/** Seconds shown as "> 1 year" (a volume that is not filling up). */
const YEAR = 365 * 86400;

export function monitoringHostDashboard(links: { title: string; uid: string }[]): dashboard.Dashboard {
  const node = j(STACK_JOBS.node);
  const fs = `mountpoint=${q(DATA_MOUNT)}, fstype!="rootfs", ${node}`;
  const avail = `node_filesystem_avail_bytes{${fs}}`;
  const size = `node_filesystem_size_bytes{${fs}}`;
  const prom = j(STACK_JOBS.prometheus);
  const loki = j(STACK_JOBS.loki);
  const tempo = j(STACK_JOBS.tempo);

  const b = baseDashboard("Monitoring host", HOST_DASHBOARD_UID, ["monitoring-host"]).description(
    "The monitoring host and its services (docs/dashboards.md). Thresholds follow the meta-alerts (docs/runbooks/).",
  );
  for (const l of links) b.link(dashboardLink(l.title, l.uid));

  b.withRow(new dashboard.RowBuilder("Host"));
  b.withPanel(
    statPanel({
      title: "Data volume used",
      description: `${DATA_MOUNT}: DataVolumeAlmostFull pages below 5 % free, DataVolumeFillingUp tickets below 20 % free when it fills within 4 days.`,
      targets: [{ expr: `1 - ${avail} / ${size}` }],
      unit: "percentunit",
      decimals: 1,
      steps: [
        { value: null, color: "green" },
        { value: 0.8, color: "orange" },
        { value: 0.95, color: "red" },
      ],
      width: 6,
    }),
  );
  b.withPanel(
    statPanel({
      title: "Data volume full in",
      description: `Free space / the rate it shrank over the last 6 hours; "> 1 year" when it is not filling up.`,
      targets: [{ expr: `clamp_max(${avail} / clamp_min(-deriv(${avail}[6h]), 1e-9), ${YEAR})` }],
      unit: "s",
      steps: [
        { value: null, color: "red" },
        { value: 4 * 86400, color: "orange" },
        { value: 14 * 86400, color: "green" },
      ],
      mappings: [{ type: dashboard.MappingType.RangeToText, options: { from: YEAR, to: null, result: { text: "> 1 year", color: "green", index: 0 } } }],
      width: 6,
    }),
  );
  b.withPanel(
    statPanel({
      title: "Scrape targets down",
      description: "Stack components Prometheus cannot scrape (MonitoringTargetDown pages after 5 minutes).",
      targets: [{ expr: `count(up{job=~"${Object.values(STACK_JOBS).join("|")}"} == 0) or vector(0)` }],
      steps: [
        { value: null, color: "green" },
        { value: 1, color: "red" },
      ],
      width: 6,
    }),
  );
  b.withPanel(
    statPanel({
      title: "Rule evaluation failures (1h)",
      description: "Failed rule evaluations in the last hour, all groups (PrometheusRuleEvaluationFailures pages).",
      targets: [{ expr: `sum(increase(prometheus_rule_evaluation_failures_total{${prom}}[1h]))` }],
      decimals: 0,
      steps: [
        { value: null, color: "green" },
        { value: 1, color: "red" },
      ],
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "CPU and memory",
      description: "CPU busy (all cores) and memory in use (1 − MemAvailable / MemTotal).",
      targets: [
        { expr: `1 - avg(rate(node_cpu_seconds_total{${node}, mode="idle"}[$__rate_interval]))`, legend: "CPU busy" },
        { expr: `1 - node_memory_MemAvailable_bytes{${node}} / node_memory_MemTotal_bytes{${node}}`, legend: "memory used" },
      ],
      unit: "percentunit",
      min: 0,
      max: 1,
      width: 12,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Data volume",
      description: `Used and free bytes on ${DATA_MOUNT}.`,
      targets: [
        { expr: `${size} - ${avail}`, legend: "used" },
        { expr: avail, legend: "free" },
      ],
      unit: "bytes",
      min: 0,
      stack: true,
      width: 12,
    }),
  );

  b.withRow(new dashboard.RowBuilder("Ingest and drops"));
  b.withPanel(
    seriesPanel({
      title: "Prometheus: samples appended",
      description: "Samples written to the TSDB head per second, and active series.",
      targets: [{ expr: `rate(prometheus_tsdb_head_samples_appended_total{${prom}}[$__rate_interval])`, legend: "samples/s" }],
      unit: "short",
      min: 0,
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Prometheus: dropped samples and alerts",
      description: "Samples rejected at scrape (out of order, out of bounds, over the sample limit) and alert notifications dropped.",
      targets: [
        ...["sample_out_of_order", "sample_out_of_bounds", "exceeded_sample_limit"].map((m) => ({
          expr: `sum(rate(prometheus_target_scrapes_${m}_total{${prom}}[$__rate_interval]))`,
          legend: `rejected: ${m.replace(/_/g, " ")}`,
        })),
        { expr: `sum(rate(prometheus_notifications_dropped_total{${prom}}[$__rate_interval]))`, legend: "dropped alerts/s" },
      ],
      unit: "short",
      min: 0,
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Loki: lines received and discarded",
      description: "Log lines received per second; discarded lines per reason (rate limits, too old, …); chunk flush failures.",
      targets: [
        { expr: `sum(rate(loki_distributor_lines_received_total{${loki}}[$__rate_interval]))`, legend: "received lines/s" },
        { expr: orZero(`sum by (reason) (rate(loki_discarded_samples_total{${loki}}[$__rate_interval]))`), legend: "discarded {{reason}}" },
        { expr: orZero(`sum(rate(loki_ingester_chunks_flush_failures_total{${loki}}[$__rate_interval]))`), legend: "flush failures/s" },
      ],
      unit: "short",
      min: 0,
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Tempo: spans received and discarded",
      description: "Spans received per second; discarded spans per reason; failed writes to S3.",
      targets: [
        { expr: `sum(rate(tempo_distributor_spans_received_total{${tempo}}[$__rate_interval]))`, legend: "received spans/s" },
        { expr: orZero(`sum by (reason) (rate(tempo_discarded_spans_total{${tempo}}[$__rate_interval]))`), legend: "discarded {{reason}}" },
        {
          expr: orZero(
            `sum(rate(tempodb_backend_request_duration_seconds_count{${tempo}, operation=~"PUT|POST", status_code!~"2.."}[$__rate_interval]))`,
          ),
          legend: "failed S3 writes/s",
        },
      ],
      unit: "short",
      min: 0,
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Collector: accepted and exported",
      description: "Items accepted by the OTLP receivers and sent by the exporters, per second and signal.",
      targets: SIGNALS.flatMap((s) => [
        { expr: `sum(${otelcol("otelcol_receiver_accepted", s)})`, legend: `accepted ${s}` },
        { expr: `sum(${otelcol("otelcol_exporter_sent", s)})`, legend: `sent ${s}` },
      ]),
      unit: "short",
      min: 0,
      width: 12,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Collector: refused, failed and dropped",
      description:
        "Refused at the receiver (memory limiter), failed exports (retried from the queue), and dropped because the queue was full. " +
        "Meta-alerts: CollectorRefusingData, CollectorExportFailing, CollectorDroppingData.",
      targets: [
        ...(
          [
            ["otelcol_receiver_refused", "refused"],
            ["otelcol_exporter_send_failed", "export failed"],
            ["otelcol_exporter_enqueue_failed", "dropped"],
          ] as const
        ).flatMap(([metric, what]) =>
          SIGNALS.map((s) => ({ expr: orZero(`sum(${otelcol(metric, s)})`), legend: `${what} ${s}` })),
        ),
      ],
      unit: "short",
      min: 0,
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Collector: sending queue use",
      description: "Queue size / capacity per exporter; CollectorQueueAlmostFull pages above 80 %.",
      targets: [
        {
          expr: `max by (exporter) (otelcol_exporter_queue_size{${j(STACK_JOBS.otelcol)}} / otelcol_exporter_queue_capacity{${j(STACK_JOBS.otelcol)}})`,
          legend: "{{exporter}}",
        },
      ],
      unit: "percentunit",
      min: 0,
      max: 1,
      lines: [{ value: 0.8 }],
      width: 6,
    }),
  );

  b.withRow(new dashboard.RowBuilder("Rules and scrapes"));
  b.withPanel(
    seriesPanel({
      title: "Rule evaluation failures per group",
      description: "Failed evaluations per rule group per second: alerts of a failing group may not fire.",
      targets: [
        { expr: `sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{${prom}}[$__rate_interval]))`, legend: "{{rule_group}}" },
        // Loki's ruler (log alerts): its rule-manager metrics, prefixed loki_ (meta-alert LokiRuleEvaluationFailures).
        { expr: orZero(`sum by (rule_group) (rate(loki_prometheus_rule_evaluation_failures_total{${loki}}[$__rate_interval]))`), legend: "log alerts {{rule_group}}" },
      ],
      unit: "short",
      min: 0,
      width: 12,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Log alerts: notifications from Loki's ruler",
      description: "Log alerts Loki's ruler sends to Alertmanager per second, and the failed sends (meta-alert LokiRulerNotificationsFailing).",
      targets: [
        { expr: orZero(`sum(rate(loki_prometheus_notifications_sent_total{${loki}}[$__rate_interval]))`), legend: "sent/s" },
        { expr: orZero(`sum(rate(loki_prometheus_notifications_errors_total{${loki}}[$__rate_interval]))`), legend: "errors/s" },
      ],
      unit: "short",
      min: 0,
      width: 12,
    }),
  );
  b.withPanel(
    new timeseries.PanelBuilder()
      .title("Error lines of the host's services")
      .description(
        "Lines of level error or worse per service in the last 5 minutes (Loki's detected_level), what the default " +
          "MonitoringServiceLogErrors alerts count (docs/log-alerts.md).",
      )
      .datasource(DS.loki)
      .withTarget(
        lokiQuery(`sum by (service_name) (count_over_time({service_namespace=${q(HOST_LOG_NAMESPACE)}} ${LOG_ALERT_DEFAULT_FILTER} [5m]))`, 0, {
          legend: "{{service_name}}",
        }),
      )
      .min(0)
      .span(12)
      .height(8),
  );
  b.withPanel(
    seriesPanel({
      title: "Scrape targets up",
      description: "1 = scraped, 0 = down, per stack job.",
      targets: [{ expr: `max by (job) (up{job=~"${Object.values(STACK_JOBS).join("|")}"})`, legend: "{{job}}" }],
      min: 0,
      max: 1,
      width: 12,
    }),
  );
  return finish(b);
}
