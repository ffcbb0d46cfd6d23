/**
 * "Service overview", one dashboard per service that has request SLOs: request rate, error ratio and latency
 * percentiles per route (a `route` variable), the latency SLO thresholds drawn, top routes by errors and by
 * latency, exemplars linking to traces. Metric and label names come from the SLO's convention (HTTP_METRICS).
 */
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as table from "@grafana/grafana-foundation-sdk/table";
import { HTTP_METRICS, seriesMatcher, type HttpMetricNames } from "../rules/slo-conventions";
import type { SloModel } from "../rules/slo-model";
import { alertAnnotation, baseDashboard, dashboardLink, DS, finish, promQuery, seriesPanel } from "./common";
import { stableUid } from "../layout/dashboard-uid";
import { q } from "../rules/promql";

export function serviceDashboardUid(service: string): string {
  return stableUid(`service-${service}`);
}

export interface ServiceView {
  service: string;
  job: string;
  names: HttpMetricNames;
  /** Unit of the histogram: seconds ("s") or milliseconds ("ms"). */
  unit: "s" | "ms";
  /** The request SLOs of the service (latency and availability). */
  slos: SloModel[];
  /** Route the `route` variable starts on: the first SLO's route, else all. */
  defaultRoute?: string;
}

/** Services with request SLOs, with the metric convention of their first request SLO. */
export function serviceViews(slos: SloModel[]): ServiceView[] {
  const services = [...new Set(slos.filter((m) => m.ratio).map((m) => m.service))];
  return services.map((service) => {
    const own = slos.filter((m) => m.service === service && m.ratio);
    const first = own[0];
    const names = HTTP_METRICS[first.spec.metrics as "otel" | "otel-legacy"];
    return {
      service,
      job: first.spec.selector.job ?? service,
      names,
      unit: names.leScale === 1 ? "s" : "ms",
      slos: own,
      ...(own.find((m) => m.spec.selector.route) ? { defaultRoute: own.find((m) => m.spec.selector.route)!.spec.selector.route } : {}),
    };
  });
}

export function serviceDashboard(v: ServiceView, links: { title: string; uid: string }[]): dashboard.Dashboard {
  const n = v.names;
  const job = `job=${q(v.job)}`;
  const sel = `${job}, ${n.route}=~"$route"`;
  // Both spellings of the histogram (with and without the unit suffix, see seriesMatcher): `count`/`bucket` are
  // `__name__` matchers, not names.
  const count = seriesMatcher(n, "count");
  const bucket = seriesMatcher(n, "bucket");
  const rate = (metric: string, extra = "", range = "$__rate_interval") => `rate({${metric}, ${sel}${extra}}[${range}])`;
  const by = `${n.route}, ${n.method}`;
  const legend = `{{${n.method}}} {{${n.route}}}`;

  const routeVar = new dashboard.QueryVariableBuilder("route")
    .label("Route")
    .datasource(DS.prometheus)
    .query({ qryType: 1, query: `label_values({${count}, ${job}}, ${n.route})`, refId: "PrometheusVariableQueryEditor-VariableQuery" })
    .definition(`label_values({${count}, ${job}}, ${n.route})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".*")
    .current(v.defaultRoute ? { text: [v.defaultRoute], value: [v.defaultRoute], selected: true } : { text: ["All"], value: ["$__all"], selected: true });

  const latencySlos = v.slos.filter((m) => m.ratio?.latency);
  const scale = n.leScale;
  const thresholdText = latencySlos.map((m) => `${m.name}: ${m.ratio!.latency!.thresholdSeconds * 1000} ms`).join(", ");

  const b = baseDashboard(`Service: ${v.service}`, serviceDashboardUid(v.service), ["service", v.service])
    .description(`Generated from the SLOs of ${v.service} (docs/dashboards.md). Metrics: ${n.histogram}.`)
    .withVariable(routeVar)
    .annotation(alertAnnotation(`SLO alerts of ${v.service}`, `alertname=~"Slo.*", service=${q(v.service)}`));
  for (const l of links) b.link(dashboardLink(l.title, l.uid));

  b.withRow(new dashboard.RowBuilder("Selected routes ($route)"));
  b.withPanel(
    seriesPanel({
      title: "Request rate",
      description: `Requests per second per route and method (${n.count}).`,
      targets: [{ expr: `sum by (${by}) (${rate(count)})`, legend }],
      unit: "reqps",
      min: 0,
      width: 8,
    }),
  );
  // Routes without any 5xx series still get a 0 line: the `or 0 * total` keeps them.
  const errors = `sum by (${by}) (${rate(count, `, ${n.status}=~"5.."`)})`;
  const total = `sum by (${by}) (${rate(count)})`;
  b.withPanel(
    seriesPanel({
      title: "Error ratio (5xx)",
      description: `Share of requests answered with a 5xx status, per route and method (${n.status}).`,
      targets: [{ expr: `(${errors} or 0 * ${total}) / (${total} > 0)`, legend }],
      unit: "percentunit",
      min: 0,
      width: 8,
    }),
  );
  const quantile = (p: number) => `histogram_quantile(${p}, sum by (le) (${rate(bucket)}))`;
  b.withPanel(
    seriesPanel({
      title: "Latency p50 / p95 / p99",
      description:
        `Percentiles over the selected routes, from ${n.histogram}; dots are exemplars (click: open the trace in Tempo). ` +
        (latencySlos.length ? `Dashed: latency SLO thresholds (${thresholdText}).` : "No latency SLO for this service."),
      targets: [
        { expr: quantile(0.5), legend: "p50", exemplar: true },
        { expr: quantile(0.95), legend: "p95", exemplar: true },
        { expr: quantile(0.99), legend: "p99", exemplar: true },
      ],
      unit: v.unit,
      min: 0,
      lines: [...new Set(latencySlos.map((m) => m.ratio!.latency!.thresholdSeconds * scale))].map((value) => ({ value, color: "red" })),
      width: 8,
    }),
  );

  b.withRow(new dashboard.RowBuilder("All routes of the service"));
  const allRoutes = `${job}`;
  const topErrors =
    `topk(10, sum by (${by}) (increase({${count}, ${allRoutes}, ${n.status}=~"5.."}[$__range]))` +
    ` or 0 * sum by (${by}) (increase({${count}, ${allRoutes}}[$__range])))`;
  const topLatency = `topk(10, histogram_quantile(0.95, sum by (le, ${by}) (rate({${bucket}, ${allRoutes}}[$__range]))))`;
  b.withPanel(topTable("Top routes by errors", `5xx responses per route over the dashboard's time range.`, topErrors, "none", n));
  b.withPanel(topTable("Top routes by p95 latency", `p95 latency per route over the dashboard's time range.`, topLatency, v.unit, n));
  return finish(b);
}

function topTable(title: string, description: string, expr: string, unit: string, n: HttpMetricNames): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(title)
    .description(description)
    .datasource(DS.prometheus)
    .withTarget(promQuery({ expr, instant: true, format: prometheus.PromQueryFormat.Table }, 0))
    .span(12)
    .height(8)
    .unit(unit)
    .sortBy([new common.TableSortByFieldStateBuilder().displayName("Value").desc(true)])
    .withTransformation({ id: "organize", options: { excludeByName: { Time: true }, renameByName: { [n.route]: "route", [n.method]: "method" } } });
}
