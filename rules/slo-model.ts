/**
 * The SLO model: one description per SLO of its SLI expressions, recorded series, burn-rate windows and alerts.
 * The Prometheus rule generator (slo-rules.ts) renders it; the dashboards and runbooks reuse it as-is, so they never
 * disagree about metric names, windows or thresholds. Nothing here is written per SLO by hand: every expression
 * comes from the SLO's kind, selector and metric convention (docs/metrics.md); which alerts exist and their labels
 * from the convention in config/slo-alerts.ts.
 */
import type { HealthSignal, SliKind, SloSpec } from "../config/slo-spec";
import type { StackConfig } from "../config/stack-config";
import { ALERT_NAMES, sloAlertNames, sloLabels, sloServices, type SloAlertName } from "../config/slo-alerts";
import { burnAlertModel, burnExpr, evaluationOf, RATE_WINDOWS, type BurnAlertModel } from "./burn-rate";
import { leMatcher, matchers, q } from "./promql";
import type { AlertRule, RecordingRule } from "./rule-file";
import { HTTP_METRICS, pct, RECORDS, RUNBOOKS, saturationExpr, seriesMatcher, type HttpMetricNames } from "./slo-conventions";

/** `long`: evaluated in the SLO's slower group (every LONG_GROUP_INTERVAL, slo-rules.ts), with the long-window records. */
type Evaluation = { evaluation?: "long" };

export type AlertModel = AlertRule & { for: string } & Evaluation;
export type RecordModel = RecordingRule & Evaluation;

/** What a dashboard generator needs about one SLO. */
export interface SloModel {
  spec: SloSpec;
  name: string;
  service: string;
  kind: SliKind;
  /** Labels on every recorded series and alert of this SLO (`slo`, `service`, `sli_kind`, `route`, `method`). */
  labels: Record<string, string>;
  /** PromQL label selector `{slo="..."}` that picks this SLO's recorded series. */
  seriesSelector: string;
  /** Human description of what is measured. */
  sliDescription: string;
  ratio?: RatioModel;
  saturation?: { threshold: number; for: string; expr: string };
  /** The series whose absence raises SloMetricsMissing. */
  presenceSelector: string;
  /** Recording rules, in evaluation order (the fast group), and the SLO-window group (evaluated less often). */
  records: RecordModel[];
  windowRecords: RecordModel[];
  alerts: AlertModel[];
  alertNames: string[];
}

/** Latency and availability SLOs: a ratio of bad requests against an error budget. */
export interface RatioModel {
  objective: number;
  errorBudget: number;
  window: string;
  /** Raw PromQL for requests/s and bad requests/s over any window (what the records evaluate). */
  requestsExpr(window: string): string;
  errorsExpr(window: string): string;
  /** Recorded windows and their series names. */
  windows: readonly string[];
  burnAlerts: BurnAlertModel[];
  /** For latency SLIs: the threshold (seconds) and the `le` value it reads. */
  latency?: { thresholdSeconds: number; le: string; histogram: string };
  /** The metric and label names it reads and the matchers of the SLO's requests (`job="…", http_route="…"`). */
  http: { names: HttpMetricNames; matchers: string };
}

export interface ServiceModel {
  service: string;
  health: HealthSignal;
  /** Names of the SLOs of this service. */
  slos: string[];
  alert?: AlertModel;
}


/** An alert of an SLO without its name and labels (those come from config/slo-alerts.ts). */
type AlertBody = Omit<AlertModel, "alert" | "labels" | "runbook">;

/** What one kind of SLI contributes to the model: its series, records, and the bodies of its own alerts. */
type Sli = Pick<SloModel, "sliDescription" | "presenceSelector" | "records" | "windowRecords" | "ratio" | "saturation"> & {
  /** Why missing metrics matter for this SLO (the SloMetricsMissing description). */
  missingConsequence: string;
  alert(name: SloAlertName): AlertBody;
};

function what(spec: SloSpec): string {
  const parts = [spec.selector.method, spec.selector.route].filter(Boolean).join(" ");
  return parts ? `${parts} requests of ${spec.service}` : `requests of ${spec.service}`;
}

export function buildSloModel(spec: SloSpec): SloModel {
  const labels = sloLabels(spec);
  const seriesSelector = `{slo=${q(spec.name)}}`;
  const names = sloAlertNames(spec);
  const sli = spec.kind === "saturation" ? saturationSli(spec, seriesSelector, labels) : ratioSli(spec, seriesSelector, labels, names);
  const alerts = names.map((n): AlertModel => {
    const body = n.of === "metrics-missing" ? metricsMissing(spec, sli.presenceSelector, sli.missingConsequence) : sli.alert(n);
    return { alert: n.alert, ...body, labels: n.labels, runbook: { file: RUNBOOKS[n.alert], slo: spec.name } };
  });
  return {
    spec,
    name: spec.name,
    service: spec.service,
    kind: spec.kind,
    labels,
    seriesSelector,
    sliDescription: sli.sliDescription,
    ...(sli.ratio ? { ratio: sli.ratio } : {}),
    ...(sli.saturation ? { saturation: sli.saturation } : {}),
    presenceSelector: sli.presenceSelector,
    records: sli.records,
    windowRecords: sli.windowRecords,
    alerts,
    alertNames: alerts.map((a) => a.alert),
  };
}

/** The HTTP requests an SLO selects: requests/s and bad requests/s over any window, and what counts as bad. */
function httpSli(spec: SloSpec): Pick<RatioModel, "requestsExpr" | "errorsExpr" | "latency" | "http"> & Pick<SloModel, "presenceSelector" | "sliDescription"> {
  const names = HTTP_METRICS[spec.metrics as "otel" | "otel-legacy"];
  const base = matchers([
    ["job", spec.selector.job ?? spec.service],
    [names.route, spec.selector.route],
    [names.method, spec.selector.method],
  ]);
  const http = { names, matchers: base };
  const count = seriesMatcher(names, "count");
  const bucket = seriesMatcher(names, "bucket");
  const requestsExpr = (w: string) => `sum(rate({${count}, ${base}}[${w}]))`;
  if (spec.kind === "latency") {
    const le = leMatcher(spec.threshold! * names.leScale);
    return {
      requestsExpr,
      // Slow = all requests minus those in the threshold bucket. Both sides come from the same scrape of the same
      // histogram, so they are extrapolated alike and the difference does not go negative.
      errorsExpr: (w) => `(${requestsExpr(w)} - sum(rate({${bucket}, ${base}, ${le.matcher}}[${w}])))`,
      latency: { thresholdSeconds: spec.threshold!, le: le.text, histogram: names.histogram },
      http,
      presenceSelector: `{${bucket}, ${base}, ${le.matcher}}`,
      sliDescription: `share of ${what(spec)} slower than ${spec.threshold! * 1000} ms (histogram bucket le="${le.text}")`,
    };
  }
  return {
    requestsExpr,
    errorsExpr: (w) => `(sum(rate({${count}, ${base}, ${http.names.status}=~"5.."}[${w}])) or vector(0))`,
    http,
    presenceSelector: `{${count}, ${base}}`,
    sliDescription: `share of ${what(spec)} answered with a 5xx status`,
  };
}

/** The records of a ratio SLO: per burn-rate window (fast group, or the long one), and over the whole SLO window. */
function ratioRecords(
  sli: Pick<RatioModel, "requestsExpr" | "errorsExpr">,
  seriesSelector: string,
  labels: Record<string, string>,
  objective: number,
  windowText: string,
): Pick<SloModel, "records" | "windowRecords"> {
  const records: RecordModel[] = RATE_WINDOWS.flatMap((w) => {
    const long = evaluationOf(w);
    return [
      { record: RECORDS.requests(w), expr: sli.requestsExpr(w), labels, ...long },
      { record: RECORDS.errors(w), expr: sli.errorsExpr(w), labels, ...long },
      // Division by zero: with no traffic the ratio is absent, not NaN, so nothing compares against it.
      { record: RECORDS.errorRatio(w), expr: `${RECORDS.errors(w)}${seriesSelector} / (${RECORDS.requests(w)}${seriesSelector} > 0)`, labels, ...long },
    ];
  });
  const windowRecords: RecordModel[] = [
    { record: RECORDS.objective, expr: `vector(${objective})`, labels },
    {
      // Request-weighted over the whole SLO window: Σ(bad/s) / Σ(requests/s) over equally spaced 5m samples.
      record: RECORDS.errorRatioWindow,
      expr:
        `sum_over_time(${RECORDS.errors("5m")}${seriesSelector}[${windowText}])` +
        ` / (sum_over_time(${RECORDS.requests("5m")}${seriesSelector}[${windowText}]) > 0)`,
      labels,
    },
    { record: RECORDS.budgetRemaining, expr: `1 - ${RECORDS.errorRatioWindow}${seriesSelector} / ${+(1 - objective).toPrecision(12)}`, labels },
  ];
  return { records, windowRecords };
}

/** Latency and availability SLOs: the HTTP SLI, its records, and the burn-rate alerts on them. */
function ratioSli(spec: SloSpec, seriesSelector: string, labels: Record<string, string>, alertNames: SloAlertName[]): Sli {
  const { requestsExpr, errorsExpr, latency, http, presenceSelector, sliDescription } = httpSli(spec);
  const objective = spec.objective!;
  const budget = 1 - objective;
  const windowText = spec.window.text;
  const { records, windowRecords } = ratioRecords({ requestsExpr, errorsExpr }, seriesSelector, labels, objective, windowText);
  const burnAlerts = alertNames.flatMap((n) => (n.of === "burn" ? [burnAlertModel(n.tier, spec, n.labels.severity)] : []));
  const badWord = spec.kind === "latency" ? `slower than ${spec.threshold! * 1000} ms` : "failing (5xx)";
  return {
    sliDescription,
    presenceSelector,
    records,
    windowRecords,
    ratio: {
      objective,
      errorBudget: +budget.toPrecision(12),
      window: windowText,
      requestsExpr,
      errorsExpr,
      windows: RATE_WINDOWS,
      burnAlerts,
      ...(latency ? { latency } : {}),
      http,
    },
    missingConsequence:
      `the SLO ${spec.name} cannot be evaluated and its burn-rate alerts cannot fire. ` +
      `The service is down, stopped exporting, or its metric/label names or bucket boundaries changed (docs/metrics.md).`,
    alert(n) {
      const b = burnAlerts.find((x) => n.of === "burn" && x.tier === n.tier.id)!;
      return {
        expr: burnExpr(b, seriesSelector, spec.name),
        for: b.for,
        keepFiringFor: b.keepFiringFor,
        ...evaluationOf(b.longWindow),
        annotations: {
          summary: `SLO ${spec.name}: error budget burning ${b.tier === "ticket" ? "steadily" : b.tier} (${b.longWindow}/${b.shortWindow} windows)`,
          description:
            `{{ $value | humanizePercentage }} of ${what(spec)} were ${badWord} over the last ${b.longWindow} ` +
            `(threshold ${pct(b.badRatio)}, i.e. ${b.burnRate}× the error budget of ${pct(budget)}; still above it over the last ${b.shortWindow}). ` +
            `Objective: ${pct(objective)} over ${windowText}. At this pace the whole budget lasts ${humanHours(spec.window.seconds / b.burnRate)}.`,
        },
      };
    },
  };
}

/** The connection-pool SLI: the busiest pool's used/max ratio, averaged over the SLO's `for`. */
function saturationSli(spec: SloSpec, seriesSelector: string, labels: Record<string, string>): Sli {
  const expr = saturationExpr(spec.metrics, spec.selector.job ?? spec.service, spec.selector.pool);
  const threshold = spec.threshold!;
  const forText = spec.for!.text;
  return {
    sliDescription: `used/max of the busiest database connection pool of ${spec.service}`,
    saturation: { threshold, for: forText, expr: expr.ratio },
    presenceSelector: expr.presence,
    records: [{ record: RECORDS.saturation, expr: expr.ratio, labels }],
    windowRecords: [],
    missingConsequence: `the saturation SLO ${spec.name} cannot be evaluated. The service or exporter is down, or its metric names changed (docs/metrics.md).`,
    alert: () => ({
      // The average over `for` must be above the threshold: a one-minute spike is diluted (a pool at 45 % spiking to
      // 100 % averages 50 % over 10m), while a pool oscillating around the threshold still alerts (a raw
      // `ratio > threshold` with `for` would restart its clock at every dip). The short `for` ignores a single
      // evaluation's blip right after a restart, when the average covers little history.
      expr: `avg_over_time(${RECORDS.saturation}${seriesSelector}[${forText}]) > ${threshold}`,
      for: "1m",
      annotations: {
        summary: `SLO ${spec.name}: database connection pool of ${spec.service} above ${pct(threshold)} for ${forText}`,
        description:
          `The busiest connection pool of ${spec.service} was {{ $value | humanizePercentage }} used on average over the last ${forText} ` +
          `(threshold ${pct(threshold)}). Requests will soon queue for connections and time out.`,
      },
    }),
  };
}

/** An SLO whose SLI series are gone raises its own (ticket) alert: silence is not health. */
function metricsMissing(spec: SloSpec, presence: string, consequence: string): AlertBody {
  return {
    // max() drops the labels absent() copies from the matchers (job, http_route, ...): the rule labels say it all.
    expr: `max(absent(${presence}))`,
    for: "15m",
    annotations: {
      summary: `SLO ${spec.name}: its SLI metrics are missing`,
      description: `No series ${presence} for 15 minutes: ${consequence}`,
    },
  };
}

/** The models of a stack's SLOs and of their services: built once per render, read by the rules, dashboards and runbooks. */
export interface SloModels {
  slos: SloModel[];
  services: ServiceModel[];
}

/** Builds the models of a stack's SLOs: what the rules contain and what the dashboards and runbooks reuse. */
export function buildSloModels(cfg: Pick<StackConfig, "slos" | "appScrapeTargets">): SloModels {
  const scraped = (cfg.appScrapeTargets ?? []).map((t) => t.service);
  return { slos: cfg.slos.map(buildSloModel), services: buildServiceModels(cfg.slos, scraped) };
}

/**
 * The service-down alert of each service that has SLOs (one per service, not per SLO). `scrapedServices`: services
 * Prometheus scrapes directly (appScrapeTargets), whose health signal defaults to `up`.
 */
export function buildServiceModels(specs: SloSpec[], scrapedServices: string[]): ServiceModel[] {
  return sloServices(specs, scrapedServices).map(({ service, health, slos, alert }) => {
    if (!alert) return { service, health, slos };
    const sel = `{job=${q(service)}}`;
    const expr = health === "up" ? `max(up${sel}) == 0 or max(absent(up${sel}))` : `max(absent(target_info${sel}))`;
    const model: AlertModel = {
      alert: alert.alert,
      expr,
      for: "1m",
      labels: alert.labels,
      annotations: {
        summary: `${service} is down (no healthy instance)`,
        description:
          health === "up"
            ? `Prometheus cannot scrape any instance of ${service} (up == 0 or no target at all) for 1 minute. Its SLOs (${slos.join(", ")}) cannot be measured while it is down.`
            : `${service} has sent no telemetry (target_info{job="${service}"} is absent) for 1 minute. Its SLOs (${slos.join(", ")}) cannot be measured while it is down.`,
      },
      runbook: { file: RUNBOOKS[ALERT_NAMES.serviceDown], service },
    };
    return { service, health, slos, alert: model };
  });
}

function humanHours(seconds: number): string {
  const h = seconds / 3600;
  return h >= 48 ? `${+(h / 24).toFixed(1)} days` : `${+h.toFixed(1)} hours`;
}
