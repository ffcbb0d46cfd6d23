/**
 * "Logs and traces": the logs of a service (Loki; the data source turns `trace_id` into a link to Tempo) and, per
 * request SLO, recent traces that broke it (TraceQL on Tempo): slower than the latency threshold, or failed.
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as logs from "@grafana/grafana-foundation-sdk/logs";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import type { SloModel } from "../rules/slo-model";
import { baseDashboard, dashboardLink, DS, finish, lokiQuery, traceqlQuery } from "./common";
import { stableUid } from "../layout/dashboard-uid";

export const LOGS_TRACES_DASHBOARD_UID = stableUid("logs-and-traces");

/** Span attribute names per convention (the trace-side twins of HTTP_METRICS' labels). */
const SPAN_ATTRS = {
  otel: { route: "span.http.route", method: "span.http.request.method", status: "span.http.response.status_code" },
  "otel-legacy": { route: "span.http.route", method: "span.http.method", status: "span.http.status_code" },
} as const;

/**
 * An SLO's `service` is the `job` label, which the collector writes as `<service.namespace>/<service.name>` when the
 * application sets a namespace (docs/metrics.md). Loki's `service_name` and Tempo's `resource.service.name` carry
 * the name alone.
 */
export function otelService(service: string): { name: string; namespace?: string } {
  const i = service.lastIndexOf("/");
  return i < 0 ? { name: service } : { name: service.slice(i + 1), namespace: service.slice(0, i) };
}

/** TraceQL duration literal: `400ms`, `1.5s`. */
export function traceqlDuration(seconds: number): string {
  const ms = +(seconds * 1000).toPrecision(12);
  return Number.isInteger(ms) ? `${ms}ms` : `${seconds}s`;
}

/** The TraceQL query that finds the requests an SLO counts as bad. */
export function sloTraceQuery(m: SloModel): string {
  const a = SPAN_ATTRS[m.spec.metrics as "otel" | "otel-legacy"];
  const svc = otelService(m.service);
  const conds = [`resource.service.name = ${JSON.stringify(svc.name)}`];
  if (svc.namespace) conds.push(`resource.service.namespace = ${JSON.stringify(svc.namespace)}`);
  conds.push("kind = server");
  if (m.spec.selector.route) conds.push(`${a.route} = ${JSON.stringify(m.spec.selector.route)}`);
  if (m.spec.selector.method) conds.push(`${a.method} = ${JSON.stringify(m.spec.selector.method)}`);
  if (m.ratio?.latency) conds.push(`duration > ${traceqlDuration(m.ratio.latency.thresholdSeconds)}`);
  else conds.push(`${a.status} >= 500`);
  return `{ ${conds.join(" && ")} }`;
}

export function logsTracesDashboard(slos: SloModel[], links: { title: string; uid: string }[]): dashboard.Dashboard {
  const services = [...new Set(slos.map((m) => m.service))];
  const first = services[0] ?? "";
  const serviceVar = new dashboard.CustomVariableBuilder("service")
    .label("Service")
    .values(services.map((s) => `${s} : ${otelService(s).name}`).join(","))
    .current({ text: first, value: otelService(first).name, selected: true })
    .options(services.map((s) => ({ text: s, value: otelService(s).name, selected: s === first })));

  const stream = `{service_name="$service"}`;
  const b = baseDashboard("Logs and traces", LOGS_TRACES_DASHBOARD_UID, ["logs", "traces"])
    .description("Generated from the stack's `slos` config (docs/dashboards.md). Logs of a service; traces that broke its SLOs.")
    .time({ from: "now-1h", to: "now" })
    .withVariable(serviceVar);
  for (const l of links) b.link(dashboardLink(l.title, l.uid));

  b.withRow(new dashboard.RowBuilder("Logs of $service"));
  b.withPanel(
    new timeseries.PanelBuilder()
      .title("Log lines by level")
      .description("Log lines per level (Loki's detected_level).")
      .datasource(DS.loki)
      .withTarget(lokiQuery(`sum by (detected_level) (count_over_time(${stream} [$__auto]))`, 0, { legend: "{{detected_level}}" }))
      .drawStyle(common.GraphDrawStyle.Bars)
      .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
      .fillOpacity(80)
      .span(24)
      .height(6),
  );
  b.withPanel(
    new logs.PanelBuilder()
      .title("Logs")
      .description("Newest first. A log line with a trace_id links to the trace in Tempo (the Loki data source's derived field).")
      .datasource(DS.loki)
      .withTarget(lokiQuery(stream, 0, { maxLines: 500 }))
      .showTime(true)
      .wrapLogMessage(true)
      .enableLogDetails(true)
      .sortOrder(common.LogsSortOrder.Descending)
      .span(24)
      .height(12),
  );

  const traced = slos.filter((m) => m.ratio);
  if (traced.length) b.withRow(new dashboard.RowBuilder("Traces that broke an SLO"));
  for (const m of traced) {
    const what = m.ratio!.latency ? `slower than ${traceqlDuration(m.ratio!.latency.thresholdSeconds)}` : "failed (5xx)";
    b.withPanel(
      new table.PanelBuilder()
        .title(`${m.name}: recent requests ${what}`)
        .description(`Tempo search (TraceQL): ${sloTraceQuery(m)}. Click a trace id to open it.`)
        .datasource(DS.tempo)
        .withTarget(traceqlQuery(sloTraceQuery(m)))
        .span(12)
        .height(8),
    );
  }
  return finish(b);
}
