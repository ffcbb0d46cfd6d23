/**
 * The SLO model: one description per SLO of its SLI expressions, recorded series, burn-rate windows and alerts.
 * The Prometheus rule generator (rules.ts) renders it; a dashboard generator can reuse it as-is, so the two never
 * disagree about metric names, windows or thresholds. Nothing here is written per SLO by hand: every expression
 * comes from the SLO's kind, selector and metric convention (docs/metrics.md).
 */
import type { HealthSignal, MetricConvention, SliKind, SloSpec, AlertSeverity } from "../config/slo-spec";

/** How long a window is, in seconds, from a Prometheus duration (`5m`, `6h`, `3d`). */
export function windowSeconds(w: string): number {
  const m = /^(\d+)([smhdw])$/.exec(w);
  if (!m) throw new Error(`not a simple Prometheus duration: ${w}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "s" | "m" | "h" | "d" | "w"];
}

/**
 * The burn-rate tiers (docs/slos.md explains the choice). Each pairs a long window (is the budget really burning?)
 * with a short one (is it still burning? lets the alert clear soon after recovery).
 *
 * The bad-ratio threshold of a tier is `min(burnRate × (1 − objective), maxBadRatio)`. The cap is what the fixed
 * SRE Workbook factors lack: with a 95 % objective a 14.4× burn needs 72 % of requests to be bad before it pages,
 * so a complete latency regression took 43 minutes to page. Capped, "15 % of requests bad for a while" pages
 * whatever the objective, while tight objectives (99.9 %) keep their budget-based thresholds.
 */
export interface BurnTier {
  id: "fast" | "slow" | "ticket";
  /** The alert's name (the same for every SLO; the `slo` label tells them apart). */
  alert: string;
  /** Severity before per-SLO overrides. */
  defaultSeverity: "page" | "ticket";
  long: string;
  short: string;
  burnRate: number;
  maxBadRatio: number;
  for: string;
  /**
   * `keep_firing_for` (Prometheus ≥ 2.42): rides out short dips of the short window below the threshold, so a page
   * does not resolve and re-fire on noise. Adds to the clearing time after recovery.
   */
  keepFiringFor: string;
  /**
   * Page tiers: while the alert fires and the failure keeps coming back, it stays open (docs/slos.md, "Intermittent
   * failures"). `within`: where two separate crossings of the short window make a failure intermittent (twice
   * `holdFor`, so a blip long before an outage does not count); `holdFor`: how long after the short window was last
   * above the threshold an intermittent failure still counts as ongoing.
   */
  recurring?: { within: string; holdFor: string };
}

export const BURN_TIERS: readonly BurnTier[] = [
  // 8× over 30 min: a full outage of a 99 % SLO crosses 8 % after 2.4 min, a 2-minute blip peaks at 6.7 % and
  // does not page. The 5m short window makes the page clear about 5 minutes after recovery.
  { id: "fast", alert: "SloBurnRateFast", defaultSeverity: "page", long: "30m", short: "5m", burnRate: 8, maxBadRatio: 0.15, for: "1m", keepFiringFor: "3m", recurring: { within: "20m", holdFor: "10m" } },
  // 5× over 6 h (≈ 4 % of a 30-day budget): catches 5-15 % error rates within hours. The 20m short window (not the
  // Workbook's 30m) lets it clear within 20 minutes of recovery.
  { id: "slow", alert: "SloBurnRateSlow", defaultSeverity: "page", long: "6h", short: "20m", burnRate: 5, maxBadRatio: 0.15, for: "5m", keepFiringFor: "5m", recurring: { within: "80m", holdFor: "40m" } },
  // 1× over 3 days: the budget will be gone by the end of the window at this pace; a ticket, not a page.
  { id: "ticket", alert: "SloBurnRateTicket", defaultSeverity: "ticket", long: "3d", short: "6h", burnRate: 1, maxBadRatio: 1, for: "15m", keepFiringFor: "30m" },
];

/** Every window a ratio SLO records a request rate and an error ratio for. */
export const RATE_WINDOWS: readonly string[] = [...new Set(BURN_TIERS.flatMap((t) => [t.short, t.long]))].sort(
  (a, b) => windowSeconds(a) - windowSeconds(b),
);

/** Alert names beyond the burn-rate tiers. */
export const ALERT_NAMES = {
  metricsMissing: "SloMetricsMissing",
  serviceDown: "SloServiceDown",
  dbSaturation: "SloDbSaturationHigh",
} as const;

/** Runbook file (in docs/runbooks/) per alert name. */
export const RUNBOOKS: Record<string, string> = {
  SloBurnRateFast: "slo-burn-rate.md",
  SloBurnRateSlow: "slo-burn-rate.md",
  SloBurnRateTicket: "slo-burn-rate.md",
  SloMetricsMissing: "slo-metrics-missing.md",
  SloServiceDown: "slo-service-down.md",
  SloDbSaturationHigh: "slo-db-saturation.md",
};

/** Recorded series names (all carry the labels `slo`, `service`, `sli_kind` and, for route SLOs, `route`/`method`). */
export const RECORDS = {
  /** Requests per second over a window. */
  requests: (w: string) => `slo:sli_requests:rate${w}`,
  /** Bad requests (errors, or slower than the threshold) per second over a window. */
  errors: (w: string) => `slo:sli_errors:rate${w}`,
  /** errors / requests over a window (request-weighted; absent when there was no traffic). */
  errorRatio: (w: string) => `slo:sli_error:ratio_rate${w}`,
  /** Error ratio over the whole SLO window, from the 5m records (request-weighted). */
  errorRatioWindow: "slo:sli_error:ratio_window",
  /** The objective as a ratio (0.99), constant, for dashboards. */
  objective: "slo:objective:ratio",
  /** 1 − (error ratio over the SLO window) / (1 − objective): 1 = untouched, 0 = spent, < 0 = overspent. */
  budgetRemaining: "slo:error_budget:remaining_ratio",
  /** Saturation SLOs: the worst used/max ratio of the selected connection pools. */
  saturation: "slo:db_connections:saturation_ratio",
} as const;

/** Concrete metric and label names of a convention (docs/metrics.md). */
export interface HttpMetricNames {
  /** The histogram as the collector's Prometheus exporter names it (unit suffix appended). */
  histogram: string;
  count: string;
  bucket: string;
  /**
   * The unit suffix of `histogram`. Exporters that do not append units (the OpenTelemetry JS SDK's Prometheus
   * exporter, scraped directly) write the histogram without it: `http_server_request_duration_bucket`. The rules
   * accept both spellings (`seriesMatcher`), so an SLO is never silently blind to one export path.
   */
  unitSuffix: string;
  method: string;
  route: string;
  status: string;
  /** Histogram unit: the `le` value of a threshold given in seconds is `seconds × leScale`. */
  leScale: number;
}

export const HTTP_METRICS: Record<"otel" | "otel-legacy", HttpMetricNames> = {
  otel: {
    histogram: "http_server_request_duration_seconds",
    count: "http_server_request_duration_seconds_count",
    bucket: "http_server_request_duration_seconds_bucket",
    unitSuffix: "_seconds",
    method: "http_request_method",
    route: "http_route",
    status: "http_response_status_code",
    leScale: 1,
  },
  "otel-legacy": {
    histogram: "http_server_duration_milliseconds",
    count: "http_server_duration_milliseconds_count",
    bucket: "http_server_duration_milliseconds_bucket",
    unitSuffix: "_milliseconds",
    method: "http_method",
    route: "http_route",
    status: "http_status_code",
    leScale: 1000,
  },
};

/**
 * `__name__` matcher for a part of the HTTP histogram (`count`, `bucket`) that selects it with or without the unit
 * suffix: `__name__=~"http_server_request_duration(_seconds)?_count"`. No exporter writes both spellings for the
 * same series, so nothing is counted twice.
 */
export function seriesMatcher(names: HttpMetricNames, part: "count" | "bucket"): string {
  const base = names.histogram.slice(0, names.histogram.length - names.unitSuffix.length);
  if (!names.histogram.endsWith(names.unitSuffix) || !names.unitSuffix) throw new Error(`${names.histogram} does not end with ${names.unitSuffix}`);
  return `__name__=~${q(`${base}(${names.unitSuffix})?_${part}`)}`;
}

export interface BurnAlertModel {
  tier: BurnTier["id"];
  alert: string;
  severity: AlertSeverity;
  longWindow: string;
  shortWindow: string;
  /** Effective burn-rate threshold (after the cap). */
  burnRate: number;
  /** Bad-ratio threshold both windows must exceed. */
  badRatio: number;
  /** Share of the SLO window's budget spent when the long window just crosses the threshold. */
  budgetSpentAtThreshold: number;
  for: string;
  keepFiringFor: string;
  minRequests: number;
  /** Stays open while an intermittent failure recurs (see BurnTier.recurring). */
  recurring?: { within: string; holdFor: string };
}

export interface AlertModel {
  alert: string;
  expr: string;
  for: string;
  keepFiringFor?: string;
  /** `long`: evaluated in the SLO's slower group, with the long-window records it reads. */
  evaluation?: "long";
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RecordModel {
  record: string;
  expr: string;
  labels: Record<string, string>;
  /** `long`: evaluated in the SLO's slower group (every LONG_GROUP_INTERVAL), see rules.ts. */
  evaluation?: "long";
}

/**
 * Windows of a day or more (the 3d ticket window) read days of raw samples: their records and the alert built on
 * them are evaluated once a minute instead of every 15 seconds (a quarter of the cost; the ticket tier waits
 * 15 minutes anyway).
 */
export const LONG_WINDOW_SECONDS = 86400;

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
  ratio?: {
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
  };
  saturation?: { threshold: number; for: string; expr: string };
  /** The series whose absence raises SloMetricsMissing. */
  presenceSelector: string;
  /** Recording rules, in evaluation order (the fast group), and the SLO-window group (evaluated less often). */
  records: RecordModel[];
  windowRecords: RecordModel[];
  alerts: AlertModel[];
  alertNames: string[];
}

export interface ServiceModel {
  service: string;
  health: HealthSignal;
  /** Names of the SLOs of this service. */
  slos: string[];
  alert?: AlertModel;
}

export interface ModelOptions {
  /**
   * The link of a runbook: `file` in docs/runbooks/, for one SLO or one service (rules/runbook-links.ts: below
   * runbookBaseUrl, or the runbook dashboard on the host's Grafana).
   */
  runbookUrl(ref: { file: string; slo?: string; service?: string }): string;
  /** Services Prometheus scrapes directly (appScrapeTargets): their health signal defaults to `up`. */
  scrapedServices: string[];
}

/** PromQL string literal. */
export function q(s: string): string {
  return JSON.stringify(s);
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Formats a bucket boundary the way exporters write `le`: `0.4`, `400`; integers also match `400.0` (Java). */
export function leMatcher(value: number): { text: string; matcher: string } {
  const text = String(Number(value.toPrecision(12)));
  const alternatives = Number.isInteger(value) ? [text, `${text}.0`] : [text];
  return { text, matcher: `le=~${q(alternatives.map(regexEscape).join("|"))}` };
}

function matchers(pairs: [string, string | undefined][]): string {
  return pairs
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(", ");
}

function pct(x: number): string {
  return `${+(x * 100).toFixed(4)} %`;
}

function sloLabels(spec: SloSpec): Record<string, string> {
  return {
    slo: spec.name,
    service: spec.service,
    sli_kind: spec.kind,
    ...(spec.selector.route !== undefined ? { route: spec.selector.route } : {}),
    ...(spec.selector.method !== undefined ? { method: spec.selector.method } : {}),
  };
}

function what(spec: SloSpec): string {
  const parts = [spec.selector.method, spec.selector.route].filter(Boolean).join(" ");
  return parts ? `${parts} requests of ${spec.service}` : `requests of ${spec.service}`;
}

export function buildSloModel(spec: SloSpec, opts: ModelOptions): SloModel {
  const labels = sloLabels(spec);
  const seriesSelector = `{slo=${q(spec.name)}}`;
  const runbook = (alert: string) => opts.runbookUrl({ file: RUNBOOKS[alert], slo: spec.name });
  // The alerts read the recorded series, so they carry the same labels (sli_kind included) plus severity.
  const alertLabels = (severity: AlertSeverity, extra: Record<string, string> = {}) => ({ severity, ...labels, ...extra, ...spec.alerting.labels });
  const job = spec.selector.job ?? spec.service;

  if (spec.kind === "saturation") return buildSaturation(spec, labels, seriesSelector, job, runbook, alertLabels);

  const names = HTTP_METRICS[spec.metrics as "otel" | "otel-legacy"];
  const base = matchers([
    ["job", job],
    [names.route, spec.selector.route],
    [names.method, spec.selector.method],
  ]);
  const count = seriesMatcher(names, "count");
  const bucket = seriesMatcher(names, "bucket");
  const requestsExpr = (w: string) => `sum(rate({${count}, ${base}}[${w}]))`;
  let errorsExpr: (w: string) => string;
  let latency: NonNullable<SloModel["ratio"]>["latency"];
  let presenceSelector: string;
  let sliDescription: string;
  if (spec.kind === "latency") {
    const le = leMatcher(spec.threshold! * names.leScale);
    latency = { thresholdSeconds: spec.threshold!, le: le.text, histogram: names.histogram };
    // Slow = all requests minus those in the threshold bucket. Both sides come from the same scrape of the same
    // histogram, so they are extrapolated alike and the difference does not go negative.
    errorsExpr = (w) => `(${requestsExpr(w)} - sum(rate({${bucket}, ${base}, ${le.matcher}}[${w}])))`;
    presenceSelector = `{${bucket}, ${base}, ${le.matcher}}`;
    sliDescription = `share of ${what(spec)} slower than ${spec.threshold! * 1000} ms (histogram bucket le="${le.text}")`;
  } else {
    errorsExpr = (w) => `(sum(rate({${count}, ${base}, ${names.status}=~"5.."}[${w}])) or vector(0))`;
    presenceSelector = `{${count}, ${base}}`;
    sliDescription = `share of ${what(spec)} answered with a 5xx status`;
  }

  const objective = spec.objective!;
  const budget = 1 - objective;
  const windowText = spec.window.text;
  const windowSec = spec.window.seconds;

  const records: RecordModel[] = [];
  for (const w of RATE_WINDOWS) {
    const long = windowSeconds(w) >= LONG_WINDOW_SECONDS ? { evaluation: "long" as const } : {};
    records.push({ record: RECORDS.requests(w), expr: requestsExpr(w), labels, ...long });
    records.push({ record: RECORDS.errors(w), expr: errorsExpr(w), labels, ...long });
    // Division by zero: with no traffic the ratio is absent, not NaN, so nothing compares against it.
    records.push({
      record: RECORDS.errorRatio(w),
      expr: `${RECORDS.errors(w)}${seriesSelector} / (${RECORDS.requests(w)}${seriesSelector} > 0)`,
      labels,
      ...long,
    });
  }
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
    {
      record: RECORDS.budgetRemaining,
      expr: `1 - ${RECORDS.errorRatioWindow}${seriesSelector} / ${+budget.toPrecision(12)}`,
      labels,
    },
  ];

  const burnAlerts: BurnAlertModel[] = BURN_TIERS.map((t) => {
    const badRatio = Math.min(t.burnRate * budget, t.maxBadRatio);
    const burnRate = badRatio / budget;
    return {
      tier: t.id,
      alert: t.alert,
      severity: t.defaultSeverity === "page" ? spec.alerting.pageSeverity : spec.alerting.ticketSeverity,
      longWindow: t.long,
      shortWindow: t.short,
      burnRate: +burnRate.toPrecision(6),
      badRatio: +badRatio.toPrecision(6),
      budgetSpentAtThreshold: +((burnRate * windowSeconds(t.long)) / windowSec).toPrecision(4),
      for: t.for,
      keepFiringFor: t.keepFiringFor,
      minRequests: spec.minRequests,
      ...(t.recurring ? { recurring: t.recurring } : {}),
    };
  });

  const badWord = spec.kind === "latency" ? `slower than ${spec.threshold! * 1000} ms` : "failing (5xx)";
  const alerts: AlertModel[] = burnAlerts.map((b) => ({
    alert: b.alert,
    expr: burnExpr(b, seriesSelector, spec.name),
    for: b.for,
    keepFiringFor: b.keepFiringFor,
    ...(windowSeconds(b.longWindow) >= LONG_WINDOW_SECONDS ? { evaluation: "long" as const } : {}),
    labels: alertLabels(b.severity, { window: `${b.longWindow}/${b.shortWindow}` }),
    annotations: {
      summary: `SLO ${spec.name}: error budget burning ${b.tier === "ticket" ? "steadily" : b.tier} (${b.longWindow}/${b.shortWindow} windows)`,
      description:
        `{{ $value | humanizePercentage }} of ${what(spec)} were ${badWord} over the last ${b.longWindow} ` +
        `(threshold ${pct(b.badRatio)}, i.e. ${b.burnRate}× the error budget of ${pct(budget)}; still above it over the last ${b.shortWindow}). ` +
        `Objective: ${pct(objective)} over ${windowText}. At this pace the whole budget lasts ${humanHours(windowSec / b.burnRate)}.`,
      runbook_url: runbook(b.alert),
    },
  }));
  alerts.push(
    metricsMissingAlert(
      presenceSelector,
      alertLabels(spec.alerting.ticketSeverity),
      runbook,
      `SLO ${spec.name}: its SLI metrics are missing`,
      `the SLO ${spec.name} cannot be evaluated and its burn-rate alerts cannot fire. ` +
        `The service is down, stopped exporting, or its metric/label names or bucket boundaries changed (docs/metrics.md).`,
    ),
  );

  return {
    spec,
    name: spec.name,
    service: spec.service,
    kind: spec.kind,
    labels,
    seriesSelector,
    sliDescription,
    ratio: {
      objective,
      errorBudget: +budget.toPrecision(12),
      window: windowText,
      requestsExpr,
      errorsExpr,
      windows: RATE_WINDOWS,
      burnAlerts,
      ...(latency ? { latency } : {}),
      http: { names, matchers: base },
    },
    presenceSelector,
    records,
    windowRecords,
    alerts,
    alertNames: alerts.map((a) => a.alert),
  };
}

/**
 * A burn-rate alert's expression: both windows above the threshold with enough requests (what makes it fire), or —
 * for the page tiers — while it already fires, the failure recurring: the long window still above the threshold,
 * the short window crossed it upwards at least twice within `within` (changes ≥ 3: bad, good, bad again), and was
 * above it within `holdFor`. A single outage never has two upward crossings, so its first page and its
 * clearing after recovery are those of the first clause; an intermittent failure (a minute bad, minutes good, bad
 * again) keeps one page open instead of a firing/resolved pair per recurrence.
 */
function burnExpr(b: BurnAlertModel, sel: string, slo: string): string {
  const long = `${RECORDS.errorRatio(b.longWindow)}${sel}`;
  const short = `${RECORDS.errorRatio(b.shortWindow)}${sel}`;
  const fire = `${long} > ${b.badRatio}\nand ${short} > ${b.badRatio}\nand ${RECORDS.requests(b.longWindow)}${sel} * ${windowSeconds(b.longWindow)} >= ${b.minRequests}`;
  if (!b.recurring) return fire;
  return (
    `(\n${fire}\n)\nor\n(\n` +
    `${long} > ${b.badRatio}\n` +
    `and on (slo) ALERTS{alertname=${q(b.alert)}, slo=${q(slo)}, alertstate="firing"}\n` +
    `and on (slo) changes((${short} > bool ${b.badRatio})[${b.recurring.within}:1m]) >= 3\n` +
    `and on (slo) max_over_time(${short}[${b.recurring.holdFor}]) > ${b.badRatio}\n)`
  );
}

/** An SLO whose SLI series are gone raises its own (ticket) alert: silence is not health. */
function metricsMissingAlert(
  presence: string,
  labels: Record<string, string>,
  runbook: (alert: string) => string,
  summary: string,
  consequence: string,
): AlertModel {
  return {
    alert: ALERT_NAMES.metricsMissing,
    // max() drops the labels absent() copies from the matchers (job, http_route, ...): the rule labels say it all.
    expr: `max(absent(${presence}))`,
    for: "15m",
    labels,
    annotations: {
      summary,
      description: `No series ${presence} for 15 minutes: ${consequence}`,
      runbook_url: runbook(ALERT_NAMES.metricsMissing),
    },
  };
}

function buildSaturation(
  spec: SloSpec,
  labels: Record<string, string>,
  seriesSelector: string,
  job: string,
  runbook: (alert: string) => string,
  alertLabels: (s: AlertSeverity, extra?: Record<string, string>) => Record<string, string>,
): SloModel {
  const expr = saturationExpr(spec.metrics, job, spec.selector.pool);
  const threshold = spec.threshold!;
  const forText = spec.for!.text;
  const records: RecordModel[] = [{ record: RECORDS.saturation, expr: expr.ratio, labels }];
  const alerts: AlertModel[] = [
    {
      alert: ALERT_NAMES.dbSaturation,
      // The average over `for` must be above the threshold: a one-minute spike is diluted (a pool at 45 % spiking to
      // 100 % averages 50 % over 10m), while a pool oscillating around the threshold still alerts (a raw
      // `ratio > threshold` with `for` would restart its clock at every dip). The short `for` ignores a single
      // evaluation's blip right after a restart, when the average covers little history.
      expr: `avg_over_time(${RECORDS.saturation}${seriesSelector}[${forText}]) > ${threshold}`,
      for: "1m",
      labels: alertLabels(spec.alerting.saturationSeverity),
      annotations: {
        summary: `SLO ${spec.name}: database connection pool of ${spec.service} above ${pct(threshold)} for ${forText}`,
        description:
          `The busiest connection pool of ${spec.service} was {{ $value | humanizePercentage }} used on average over the last ${forText} ` +
          `(threshold ${pct(threshold)}). Requests will soon queue for connections and time out.`,
        runbook_url: runbook(ALERT_NAMES.dbSaturation),
      },
    },
    metricsMissingAlert(
      expr.presence,
      alertLabels(spec.alerting.ticketSeverity),
      runbook,
      `SLO ${spec.name}: its SLI metrics are missing`,
      `the saturation SLO ${spec.name} cannot be evaluated. The service or exporter is down, or its metric names changed (docs/metrics.md).`,
    ),
  ];
  return {
    spec,
    name: spec.name,
    service: spec.service,
    kind: spec.kind,
    labels,
    seriesSelector,
    sliDescription: `used/max of the busiest database connection pool of ${spec.service}`,
    saturation: { threshold, for: forText, expr: expr.ratio },
    presenceSelector: expr.presence,
    records,
    windowRecords: [],
    alerts,
    alertNames: alerts.map((a) => a.alert),
  };
}

export function saturationExpr(metrics: MetricConvention, job: string, pool?: string): { ratio: string; presence: string } {
  if (metrics === "postgres-exporter") {
    const sel = matchers([["job", job]]);
    return {
      ratio: `max(sum by (instance) (pg_stat_activity_count{${sel}}) / on (instance) max by (instance) (pg_settings_max_connections{${sel}}))`,
      presence: `pg_settings_max_connections{${sel}}`,
    };
  }
  const otel = metrics === "otel";
  const poolLabel = otel ? "db_client_connection_pool_name" : "pool_name";
  const stateLabel = otel ? "db_client_connection_state" : "state";
  const used = otel ? "db_client_connection_count" : "db_client_connections_usage";
  const max = otel ? "db_client_connection_max" : "db_client_connections_max";
  const sel = matchers([["job", job], [poolLabel, pool]]);
  const by = `by (instance, ${poolLabel})`;
  return {
    ratio: `max(sum ${by} (${used}{${sel}, ${stateLabel}="used"}) / sum ${by} (${max}{${sel}}))`,
    presence: `${max}{${sel}}`,
  };
}

/** The service-down alert of each service that has SLOs (one per service, not per SLO). */
export function buildServiceModels(specs: SloSpec[], opts: ModelOptions): ServiceModel[] {
  const services = [...new Set(specs.map((s) => s.service))];
  return services.map((service) => {
    const ofService = specs.filter((s) => s.service === service);
    const explicit = ofService.map((s) => s.health).find((h) => h !== undefined);
    const health: HealthSignal = explicit ?? (opts.scrapedServices.includes(service) ? "up" : "target_info");
    const severity = ofService.some((s) => s.alerting.pageSeverity === "page") ? "page" : "ticket";
    const extra = Object.assign({}, ...ofService.map((s) => s.alerting.labels)) as Record<string, string>;
    const slos = ofService.map((s) => s.name);
    const model: ServiceModel = { service, health, slos };
    if (health === "none") return model;
    const sel = `{job=${q(service)}}`;
    const expr =
      health === "up"
        ? `max(up${sel}) == 0 or max(absent(up${sel}))`
        : `max(absent(target_info${sel}))`;
    model.alert = {
      alert: ALERT_NAMES.serviceDown,
      expr,
      for: "1m",
      labels: { severity, slo: slos.join(","), service, ...extra },
      annotations: {
        summary: `${service} is down (no healthy instance)`,
        description:
          health === "up"
            ? `Prometheus cannot scrape any instance of ${service} (up == 0 or no target at all) for 1 minute. Its SLOs (${slos.join(", ")}) cannot be measured while it is down.`
            : `${service} has sent no telemetry (target_info{job="${service}"} is absent) for 1 minute. Its SLOs (${slos.join(", ")}) cannot be measured while it is down.`,
        runbook_url: opts.runbookUrl({ file: RUNBOOKS[ALERT_NAMES.serviceDown], service }),
      },
    };
    return model;
  });
}

function humanHours(seconds: number): string {
  const h = seconds / 3600;
  return h >= 48 ? `${+(h / 24).toFixed(1)} days` : `${+h.toFixed(1)} hours`;
}
