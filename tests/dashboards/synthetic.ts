/**
 * Synthetic healthy data for the dashboard data proof, as OpenMetrics text for
 * `promtool tsdb create-blocks-from openmetrics`:
 *
 * - the application's series: the SLO benchmark's generator (scripts/bench/alert-sim.ts `scenarioSeries`, healthy phase with
 *   noise), one sample per minute, plus the DB pool's pending-requests/timeouts instruments the benchmark lacks;
 * - the stack's own components, with the metric names and job labels the meta-alerts and STACK_JOBS use
 *   (node_exporter, Prometheus, Loki, Tempo, otelcol), behaving like a healthy host: counters that grow, failure
 *   counters that exist and stay at 0, a data volume filling slowly.
 */
import { DATA_MOUNT } from "../../layout/host-layout";
import { STACK_JOBS } from "../../hostfiles/services/prometheus";
import { healthy, scenarioSeries } from "../../scripts/bench/alert-sim";
import type { SloSpec } from "../../config/slo-spec";

export interface SyntheticSeries {
  metric: string;
  labels: Record<string, string>;
  /** One value per minute; `undefined` = no sample. */
  values: (number | undefined)[];
}

/** Parses `name{a="b", c="d"}` as written by scripts/bench/alert-sim.ts. */
function parseSeries(text: string): { metric: string; labels: Record<string, string> } {
  const brace = text.indexOf("{");
  const metric = brace < 0 ? text : text.slice(0, brace);
  const labels: Record<string, string> = {};
  for (const m of text.slice(brace + 1).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]] = JSON.parse(`"${m[2]}"`);
  return { metric, labels };
}

/** The benchmark's healthy traffic for the services of `specs` (one generator run per service). */
export function applicationSeries(specs: SloSpec[], minutes: number, seed = 11): SyntheticSeries[] {
  const services = [...new Set(specs.map((s) => s.service))];
  const out: SyntheticSeries[] = [];
  for (const service of services) {
    const own = specs.filter((s) => s.service === service);
    const series = scenarioSeries({ id: "dashboards-healthy", title: "healthy", incidentStart: 0, phases: [healthy(minutes)], seed }, own);
    for (const s of series) {
      const { metric, labels } = parseSeries(s.series);
      const values = s.values.split(" ").map((v) => (v === "_" || v === "stale" ? undefined : Number(v)));
      out.push({ metric, labels, values });
    }
    // The pool instruments next to db_client_connection_count that the benchmark does not generate.
    const pool = { job: service, instance: "i-0a1", db_client_connection_pool_name: "main" };
    out.push({ metric: "db_client_connection_pending_requests", labels: pool, values: ramp(minutes, (i) => (i % 7 === 0 ? 1 : 0)) });
    out.push({ metric: "db_client_connection_timeouts_total", labels: pool, values: ramp(minutes, () => 0) });
  }
  return out;
}

function ramp(minutes: number, f: (i: number) => number): number[] {
  return Array.from({ length: minutes + 1 }, (_, i) => f(i));
}

/** A counter growing by `perMinute` each minute. */
function counter(minutes: number, perMinute: number): number[] {
  return ramp(minutes, (i) => i * perMinute);
}

/** The monitoring stack's own metrics on a healthy host. */
export function stackSeries(minutes: number): SyntheticSeries[] {
  const s: SyntheticSeries[] = [];
  const add = (metric: string, labels: Record<string, string>, values: number[]) => s.push({ metric, labels, values });
  const node = { job: STACK_JOBS.node, instance: "127.0.0.1:9100" };
  for (const cpu of ["0", "1"]) {
    add("node_cpu_seconds_total", { ...node, cpu, mode: "idle" }, counter(minutes, 45));
    add("node_cpu_seconds_total", { ...node, cpu, mode: "user" }, counter(minutes, 10));
    add("node_cpu_seconds_total", { ...node, cpu, mode: "system" }, counter(minutes, 5));
  }
  const gib = 1024 ** 3;
  add("node_memory_MemTotal_bytes", node, ramp(minutes, () => 8 * gib));
  add("node_memory_MemAvailable_bytes", node, ramp(minutes, (i) => 3 * gib + (i % 10) * 1e6));
  const fs = { ...node, device: "/dev/nvme1n1", fstype: "ext4", mountpoint: DATA_MOUNT };
  add("node_filesystem_size_bytes", fs, ramp(minutes, () => 50 * gib));
  // Filling by 1 MiB a minute: 30 GiB free lasts about three weeks.
  add("node_filesystem_avail_bytes", fs, ramp(minutes, (i) => 30 * gib - i * 1024 ** 2));
  add("node_filesystem_avail_bytes", { ...node, device: "/dev/nvme0n1p1", fstype: "xfs", mountpoint: "/" }, ramp(minutes, () => 10 * gib));

  for (const job of Object.values(STACK_JOBS)) add("up", { job, instance: `127.0.0.1:${job.length}` }, ramp(minutes, () => 1));

  const prom = { job: STACK_JOBS.prometheus, instance: "127.0.0.1:9090" };
  add("prometheus_tsdb_head_samples_appended_total", { ...prom, type: "float" }, counter(minutes, 60_000));
  for (const m of ["sample_out_of_order", "sample_out_of_bounds", "exceeded_sample_limit"]) add(`prometheus_target_scrapes_${m}_total`, prom, counter(minutes, 0));
  add("prometheus_notifications_dropped_total", prom, counter(minutes, 0));
  for (const group of ["/etc/prometheus/rules/meta.yml;monitoring-host.availability", "/etc/prometheus/rules/slo-appointments-api.yml;slo:appointments-create-latency"]) {
    add("prometheus_rule_evaluation_failures_total", { ...prom, rule_group: group }, counter(minutes, 0));
  }

  const loki = { job: STACK_JOBS.loki, instance: "127.0.0.1:3100" };
  add("loki_distributor_lines_received_total", { ...loki, tenant: "fake" }, counter(minutes, 3000));
  add("loki_discarded_samples_total", { ...loki, tenant: "fake", reason: "rate_limited" }, counter(minutes, 0));
  add("loki_ingester_chunks_flush_failures_total", loki, counter(minutes, 0));
  // Loki's ruler (log alerts): the rule-manager and notifier metrics it exposes, with the tenant as `user`.
  add("loki_prometheus_rule_evaluation_failures_total", { ...loki, user: "fake", rule_group: "log-alerts.yaml;logs:loki" }, counter(minutes, 0));
  add("loki_prometheus_notifications_sent_total", { ...loki, user: "fake", alertmanager: "http://127.0.0.1:9093/api/v2/alerts" }, counter(minutes, 0.5));
  add("loki_prometheus_notifications_errors_total", { ...loki, user: "fake", alertmanager: "http://127.0.0.1:9093/api/v2/alerts" }, counter(minutes, 0));

  const tempo = { job: STACK_JOBS.tempo, instance: "127.0.0.1:3200" };
  add("tempo_distributor_spans_received_total", { ...tempo, tenant: "single-tenant" }, counter(minutes, 1200));
  add("tempo_discarded_spans_total", { ...tempo, tenant: "single-tenant", reason: "rate_limited" }, counter(minutes, 0));
  add("tempodb_backend_request_duration_seconds_count", { ...tempo, operation: "PUT", status_code: "200" }, counter(minutes, 4));
  add("tempodb_backend_request_duration_seconds_count", { ...tempo, operation: "PUT", status_code: "500" }, counter(minutes, 0));

  const otel = { job: STACK_JOBS.otelcol, instance: "127.0.0.1:8888" };
  const perMinute = { spans: 1200, metric_points: 6000, log_records: 3000 } as const;
  for (const [signal, n] of Object.entries(perMinute)) {
    const rec = { ...otel, receiver: "otlp", transport: "grpc" };
    add(`otelcol_receiver_accepted_${signal}_total`, rec, counter(minutes, n));
    add(`otelcol_receiver_refused_${signal}_total`, rec, counter(minutes, 0));
    const exporter = { spans: "otlp_grpc/tempo", metric_points: "prometheus", log_records: "otlp_http/loki" }[signal]!;
    add(`otelcol_exporter_sent_${signal}_total`, { ...otel, exporter }, counter(minutes, n));
    add(`otelcol_exporter_send_failed_${signal}_total`, { ...otel, exporter }, counter(minutes, 0));
    add(`otelcol_exporter_enqueue_failed_${signal}_total`, { ...otel, exporter }, counter(minutes, 0));
  }
  for (const exporter of ["otlp_grpc/tempo", "otlp_http/loki"]) {
    add("otelcol_exporter_queue_size", { ...otel, exporter }, ramp(minutes, (i) => i % 5));
    add("otelcol_exporter_queue_capacity", { ...otel, exporter }, ramp(minutes, () => 5000));
  }
  return s;
}

/** OpenMetrics text: every series, one sample per minute from `startSec`, then `# EOF`. */
export function toOpenMetrics(series: SyntheticSeries[], startSec: number): string {
  const lines: string[] = [];
  const byMetric = new Map<string, SyntheticSeries[]>();
  for (const s of series) byMetric.set(s.metric, [...(byMetric.get(s.metric) ?? []), s]);
  for (const [metric, list] of byMetric) {
    // No # TYPE: the samples are imported as-is (type "unknown"), names included.
    for (const s of list) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(",");
      s.values.forEach((v, i) => {
        if (v !== undefined && Number.isFinite(v)) lines.push(`${metric}{${labels}} ${v} ${startSec + i * 60}`);
      });
    }
  }
  lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}

/**
 * An `ALERTS` series as Prometheus writes it for an alert that fired from minute `from` to minute `to` (exclusive)
 * and is resolved since: 1 while firing, absent otherwise.
 */
export function pastAlert(labels: Record<string, string>, minutes: number, from: number, to: number): SyntheticSeries {
  return {
    metric: "ALERTS",
    labels: { ...labels, alertstate: "firing" },
    values: Array.from({ length: minutes + 1 }, (_, i) => (i >= from && i < to ? 1 : undefined)),
  };
}
