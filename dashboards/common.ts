/**
 * Shared pieces of the dashboard generators: data source references (the provisioned uids), typed query and panel
 * helpers on top of @grafana/grafana-foundation-sdk, stable uids, and the post-processing every dashboard gets
 * (panel ids, a query walk the tests use).
 */
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as loki from "@grafana/grafana-foundation-sdk/loki";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as tempo from "@grafana/grafana-foundation-sdk/tempo";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { DATASOURCE_UIDS } from "../layout/host-layout";

/** Data source references: the uids provisioned by hostfiles/services/grafana.ts, never literals. */
export const DS = {
  prometheus: { type: "prometheus", uid: DATASOURCE_UIDS.prometheus },
  loki: { type: "loki", uid: DATASOURCE_UIDS.loki },
  tempo: { type: "tempo", uid: DATASOURCE_UIDS.tempo },
} as const satisfies Record<string, common.DataSourceRef>;


/**
 * `(expr) or vector(0)`: for counters of failures that exist only once something failed. A healthy system shows 0,
 * not "No data". The tests query the inner expression on its own too, so the metric names are still proven.
 */
export function orZero(expr: string): string {
  return `(${expr}) or vector(0)`;
}

export interface PromTarget {
  expr: string;
  legend?: string;
  /** Instant query (stat/table panels that show one value per series). */
  instant?: boolean;
  exemplar?: boolean;
  format?: prometheus.PromQueryFormat;
}

const REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

export function promQuery(t: PromTarget, i: number): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder()
    .datasource(DS.prometheus)
    .refId(REF_IDS[i])
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(t.expr)
    .legendFormat(t.legend ?? "__auto");
  if (t.instant) b.instant();
  else b.range();
  if (t.exemplar) b.exemplar(true);
  if (t.format) b.format(t.format);
  return b;
}

export function lokiQuery(expr: string, i: number, opts: { legend?: string; maxLines?: number } = {}): loki.DataqueryBuilder {
  const b = new loki.DataqueryBuilder().datasource(DS.loki).refId(REF_IDS[i]).editorMode(loki.QueryEditorMode.Code).expr(expr).queryType("range");
  if (opts.legend) b.legendFormat(opts.legend);
  if (opts.maxLines) b.maxLines(opts.maxLines);
  return b;
}

export function traceqlQuery(query: string, limit = 20): tempo.DataqueryBuilder {
  return new tempo.DataqueryBuilder()
    .datasource(DS.tempo)
    .refId("A")
    .queryType("traceql")
    .query(query)
    .limit(limit)
    .tableType(tempo.SearchTableType.Traces);
}

export function thresholds(steps: { value: number | null; color: string }[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

export interface SeriesPanelOpts {
  title: string;
  description?: string;
  targets: PromTarget[];
  unit?: string;
  /** Lines drawn at these values (the SLO threshold, burn-rate thresholds, the saturation threshold). */
  lines?: { value: number; color?: string }[];
  min?: number;
  max?: number;
  width?: number;
  height?: number;
  stack?: boolean;
}

/** A time series panel on Prometheus; `lines` become dashed threshold lines. */
export function seriesPanel(o: SeriesPanelOpts): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder()
    .title(o.title)
    .datasource(DS.prometheus)
    .targets(o.targets.map(promQuery))
    .span(o.width ?? 12)
    .height(o.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
  if (o.description) p.description(o.description);
  if (o.unit) p.unit(o.unit);
  if (o.min !== undefined) p.min(o.min);
  if (o.max !== undefined) p.max(o.max);
  if (o.stack) p.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (o.lines?.length) {
    p.thresholds(thresholds([{ value: null, color: "green" }, ...o.lines.map((l) => ({ value: l.value, color: l.color ?? "red" }))]));
    p.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  return p;
}

export interface StatPanelOpts {
  title: string;
  description?: string;
  targets: PromTarget[];
  unit?: string;
  steps?: { value: number | null; color: string }[];
  mappings?: dashboard.ValueMapping[];
  width?: number;
  height?: number;
  decimals?: number;
  noValue?: string;
}

/** A single-value panel on Prometheus (instant queries, last value). */
export function statPanel(o: StatPanelOpts): stat.PanelBuilder {
  const p = new stat.PanelBuilder()
    .title(o.title)
    .datasource(DS.prometheus)
    .targets(o.targets.map((t, i) => promQuery({ instant: true, ...t }, i)))
    .span(o.width ?? 4)
    .height(o.height ?? 4)
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(o.targets.length > 1 ? common.BigValueTextMode.ValueAndName : common.BigValueTextMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false));
  if (o.description) p.description(o.description);
  if (o.unit) p.unit(o.unit);
  if (o.decimals !== undefined) p.decimals(o.decimals);
  if (o.steps) p.thresholds(thresholds(o.steps));
  if (o.mappings) p.mappings(o.mappings);
  if (o.noValue) p.noValue(o.noValue);
  return p;
}

/** Value mapping for 0/1 "is this alert firing" series. */
export const FIRING_MAPPINGS: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: { "0": { text: "OK", color: "green", index: 0 }, "1": { text: "FIRING", color: "red", index: 1 } },
  },
];

/** A link to another generated dashboard, keeping the time range and variables. */
export function dashboardLink(title: string, uid: string): dashboard.DashboardLinkBuilder {
  return new dashboard.DashboardLinkBuilder(title).type(dashboard.DashboardLinkType.Link).url(`/d/${uid}`).keepTime(true).includeVars(true).icon("dashboard");
}

/** Grafana's own "Annotations & Alerts" (what the UI adds to every new dashboard). */
function builtInAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name("Annotations & Alerts")
    .builtIn(1)
    .type("dashboard")
    .datasource({ type: "grafana", uid: "-- Grafana --" })
    .enable(true)
    .hide(true)
    .iconColor("rgba(0, 211, 255, 1)");
}

/** Marks on the time axis while Prometheus alerts matching `matchers` fire (from the ALERTS series). */
export function alertAnnotation(name: string, matchers: string): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name(name)
    .datasource(DS.prometheus)
    .enable(true)
    .iconColor("red")
    .expr(`ALERTS{alertstate="firing", ${matchers}}`)
    .step("1m")
    .titleFormat("{{alertname}}")
    .tagKeys("severity,slo")
    .textFormat("{{alertname}} ({{severity}}) {{slo}}");
}

/** Dashboard defaults shared by every generated dashboard. */
export function baseDashboard(title: string, uid: string, tags: string[]): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .annotation(builtInAnnotation())
    .tags(["generated", ...tags])
    .readonly()
    .timezone("utc")
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: "now-6h", to: "now" })
    .refresh("1m");
}

/** A panel or row as it appears in the built dashboard. */
type AnyPanel = dashboard.Panel | dashboard.RowPanel;

/** Sets unique panel ids (Grafana needs them for links and panel state) and returns the dashboard. */
export function finish(b: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = b.build();
  let id = 1;
  const visit = (p: AnyPanel) => {
    p.id = id++;
    if (p.type === "row") (p as dashboard.RowPanel).panels?.forEach((c) => visit(c));
  };
  d.panels?.forEach((p) => visit(p as AnyPanel));
  return d;
}

/** One query of a built dashboard, with where it sits. */
export interface DashboardQuery {
  dashboard: string;
  panel: string;
  panelType: string;
  refId: string;
  datasource: common.DataSourceRef;
  /** PromQL / LogQL expression, or TraceQL query. */
  expr: string;
  /** A panel's query, or an annotation's (which may rightly return nothing: no alert fired). */
  kind: "panel" | "annotation";
  instant: boolean;
}

/** Every query of every panel (rows included). The tests walk this; nothing is hand-listed. */
export function dashboardQueries(d: dashboard.Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  const visit = (p: AnyPanel) => {
    if (p.type === "row") {
      (p as dashboard.RowPanel).panels?.forEach((c) => visit(c));
      return;
    }
    const panel = p as dashboard.Panel;
    for (const t of (panel.targets ?? []) as (cog.Dataquery & Record<string, unknown>)[]) {
      const ds = (t.datasource ?? panel.datasource) as common.DataSourceRef;
      out.push({
        dashboard: d.uid ?? "",
        panel: panel.title ?? "",
        panelType: panel.type,
        refId: String(t.refId ?? ""),
        datasource: ds,
        expr: String(t.expr ?? t.query ?? ""),
        kind: "panel",
        instant: t.instant === true && t.range !== true,
      });
    }
  };
  d.panels?.forEach((p) => visit(p as AnyPanel));
  for (const a of (d.annotations?.list ?? []) as (dashboard.AnnotationQuery & Record<string, unknown>)[]) {
    if (a.builtIn) continue;
    out.push({
      dashboard: d.uid ?? "",
      panel: `annotation: ${a.name}`,
      panelType: "annotation",
      refId: "",
      datasource: a.datasource as common.DataSourceRef,
      expr: String(a.expr ?? ""),
      kind: "annotation",
      instant: false,
    });
  }
  return out;
}

/** Every non-row panel of a built dashboard. */
export function dashboardPanels(d: dashboard.Dashboard): dashboard.Panel[] {
  const out: dashboard.Panel[] = [];
  const visit = (p: AnyPanel) => {
    if (p.type === "row") (p as dashboard.RowPanel).panels?.forEach((c) => visit(c));
    else out.push(p as dashboard.Panel);
  };
  d.panels?.forEach((p) => visit(p as AnyPanel));
  return out;
}

export type { cog };
