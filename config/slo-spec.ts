/**
 * The `slos` stack-config key: Service Level Objectives declared as data. `parseSlos` validates the raw value and
 * reports every problem with its full key (`monitoring-hosts:slos[0].objective`) into the shared problem list of
 * the config loader, so a user fixes SLO mistakes together with the rest of the config.
 *
 * This module must not import config/loader.ts (which imports it); it only uses the problem collector.
 */
import { ConfigProblems, didYouMean, show } from "./config-problems";
import { parseDuration, Duration } from "./duration";
import { ALERT_SEVERITIES, type AlertSeverity } from "./severities";
import { templateProblem } from "./value-checks";
import { slug } from "../layout/slug";

export const SLI_KINDS = ["latency", "availability", "saturation"] as const;
export type SliKind = (typeof SLI_KINDS)[number];

/**
 * Which metric names the application exports (docs/metrics.md):
 * - `otel`: current OpenTelemetry semantic conventions as exported to Prometheus (seconds, `http_request_method`, ...).
 * - `otel-legacy`: pre-1.20 conventions (`http_server_duration_milliseconds`, `http_method`, `db_client_connections_*`).
 * - `postgres-exporter`: saturation only, `pg_stat_activity_count` / `pg_settings_max_connections`.
 */
export const METRIC_CONVENTIONS = ["otel", "otel-legacy", "postgres-exporter"] as const;
export type MetricConvention = (typeof METRIC_CONVENTIONS)[number];

/** How "the application is down" is detected for the service-down page (docs/slos.md). */
export const HEALTH_SIGNALS = ["up", "target_info", "none"] as const;
export type HealthSignal = (typeof HEALTH_SIGNALS)[number];

/** OpenTelemetry's advisory boundaries for `http.server.request.duration`, in seconds. There is no 0.4. */
export const OTEL_DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** The older `http.server.duration` (milliseconds) default boundaries, written here in seconds. */
export const OTEL_LEGACY_DEFAULT_BUCKETS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/** Shortest and longest SLO window. The longest burn-rate window is 3d, so the SLO window must be longer. */
export const MIN_WINDOW_DAYS = 7;
export const MAX_WINDOW_DAYS = 90;

/** Labels the generator sets itself on every SLO series and alert; extra routing labels may not reuse them. */
export const RESERVED_LABELS = ["severity", "slo", "service", "route", "method", "pool", "alertname", "window", "sli_kind", "job", "instance", "le", "__name__"];

export interface SloSelector {
  /** `http_route` value (the route template, like `/orders/{id}`). Latency/availability only. */
  route?: string;
  /** HTTP method (upper case). Latency/availability only. */
  method?: string;
  /** Saturation: a connection pool name (`db_client_connection_pool_name` / `pool_name`); all pools when unset. */
  pool?: string;
  /** Overrides the `job` matcher (default: the service name), e.g. the postgres_exporter's job. */
  job?: string;
}

export interface SloAlerting {
  /** Severity of the burn-rate "page" tiers (and the service-down alert); `ticket` turns them into tickets. */
  pageSeverity: AlertSeverity;
  /** Severity of the slow-burn ticket tier, the missing-metrics alert and the saturation alert. */
  ticketSeverity: AlertSeverity;
  /** Severity of the saturation alert (default ticket). */
  saturationSeverity: AlertSeverity;
  /** Extra labels on every alert of this SLO, for Alertmanager routing (e.g. `team: payments`). */
  labels: Record<string, string>;
}

/** One validated SLO. */
export interface SloSpec {
  name: string;
  service: string;
  kind: SliKind;
  description?: string;
  selector: SloSelector;
  /** Latency/availability: the target fraction of good requests, 0 < objective < 1 (config gives percent). */
  objective?: number;
  /** Compliance window (28d, 30d, ...), whole days. */
  window: Duration;
  /**
   * Latency: the threshold in seconds (a request is good when it took at most this long).
   * Saturation: the used/max fraction above which the pool counts as saturated.
   */
  threshold?: number;
  /** Latency: the histogram bucket boundaries (seconds) the application declares. */
  buckets?: number[];
  /** Saturation: how long the pool must stay above the threshold before the alert fires. */
  for?: Duration;
  metrics: MetricConvention;
  /** Burn-rate alerts need at least this many requests in their long window (low-traffic guard). */
  minRequests: number;
  /** Service-down signal; undefined = automatic (`up` when the service is in appScrapeTargets, else `target_info`). */
  health?: HealthSignal;
  alerting: SloAlerting;
}

const FIELDS = [
  "name",
  "service",
  "kind",
  "description",
  "selector",
  "objective",
  "window",
  "threshold",
  "buckets",
  "for",
  "metrics",
  "minRequests",
  "health",
  "alerting",
];
const SELECTOR_FIELDS = ["route", "method", "pool", "job"];
const ALERTING_FIELDS = ["pageSeverity", "ticketSeverity", "saturationSeverity", "labels"];

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,126}$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Validates the `slos` value. `raw` is the value as written (undefined when unset), `key` the fully qualified key.
 * Returns the SLOs that are valid; every problem goes into `p`.
 */
export function parseSlos(raw: unknown, key: string, p: ConfigProblems): SloSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of SLOs ({name, service, kind, objective, window, ...}; docs/slos.md), got ${show(raw)}`);
    return [];
  }
  const result: SloSpec[] = [];
  raw.forEach((item, i) => {
    const spec = parseOne(item, `${key}[${i}]`, p);
    if (spec) result.push(spec);
  });
  // The service-down alert is one per service: its SLOs must not ask for different health signals.
  const health = new Map<string, { value: string; index: number }>();
  raw.forEach((item, i) => {
    const o = item as Record<string, unknown> | null;
    if (typeof o?.service !== "string" || typeof o.health !== "string") return;
    const first = health.get(o.service);
    if (!first) health.set(o.service, { value: o.health, index: i });
    else if (first.value !== o.health) {
      p.add(`${key}[${i}].health`, `${show(o.health)} contradicts ${show(first.value)} of ${key}[${first.index}] for the same service ${show(o.service)}; a service has one health signal`);
    }
  });
  // Rule files and dashboard uids name a service by its slug (`slo-<slug>.yml`): two services with one slug would
  // claim the same file.
  const slugs = new Map<string, { service: string; index: number }>();
  raw.forEach((item, i) => {
    const service = (item as Record<string, unknown> | null)?.service;
    if (typeof service !== "string") return;
    const first = slugs.get(slug(service));
    if (!first) slugs.set(slug(service), { service, index: i });
    else if (first.service !== service) {
      p.add(
        `${key}[${i}].service`,
        `${show(service)} and ${show(first.service)} of ${key}[${first.index}] both become ${show(slug(service))} in rule file and dashboard names; ` +
          "use one spelling for one service, or names that differ in letters or digits",
      );
    }
  });
  const seen = new Map<string, number>();
  raw.forEach((item, i) => {
    const name = (item as Record<string, unknown> | null)?.name;
    if (typeof name !== "string") return;
    if (seen.has(name)) {
      p.add(`${key}[${i}].name`, `${show(name)} is already the name of ${key}[${seen.get(name)}]; SLO names must be unique`);
    } else {
      seen.set(name, i);
    }
  });
  return result;
}

function parseOne(item: unknown, at: string, p: ConfigProblems): SloSpec | undefined {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    p.add(at, `must be an object with name, service, kind, objective and window, got ${show(item)}`);
    return undefined;
  }
  const before = p.items.length;
  const o = item as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (!FIELDS.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${FIELDS.join(", ")}${didYouMean(field, FIELDS)}`);
  }

  const name = o.name;
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    p.add(`${at}.name`, `${show(name)} must be lower-case letters, digits and dashes (at most 63), like "checkout-latency"`);
  }
  const service = o.service;
  if (typeof service !== "string" || !SERVICE_RE.test(service)) {
    p.add(`${at}.service`, `${show(service)} must be the service name as in the job label (service.name), like "checkout-api"`);
  }
  const kind = o.kind as SliKind;
  if (!SLI_KINDS.includes(kind)) p.add(`${at}.kind`, `${show(o.kind)} is not a known SLI kind; allowed: ${SLI_KINDS.join(", ")}${didYouMean(o.kind, SLI_KINDS)}`);
  const description = o.description;
  if (description !== undefined && typeof description !== "string") p.add(`${at}.description`, "must be a string");
  else if (typeof description === "string" && templateProblem(description)) p.add(`${at}.description`, templateProblem(description)!);

  const selector = parseSelector(o.selector, `${at}.selector`, kind, p);

  const metrics = (o.metrics ?? "otel") as MetricConvention;
  if (!METRIC_CONVENTIONS.includes(metrics)) {
    p.add(`${at}.metrics`, `${show(o.metrics)} is not allowed; allowed: ${METRIC_CONVENTIONS.join(", ")} (docs/metrics.md)`);
  } else if (metrics === "postgres-exporter" && kind !== "saturation" && SLI_KINDS.includes(kind)) {
    p.add(`${at}.metrics`, `"postgres-exporter" only provides saturation metrics; a ${kind} SLO needs "otel" or "otel-legacy"`);
  }

  // Objective: percent, strictly between 50 and 100 (a fraction like 0.99 is refused: it would mean 0.99 %).
  let objective: number | undefined;
  if (kind === "saturation") {
    if (o.objective !== undefined) p.add(`${at}.objective`, "is not used by saturation SLOs; set threshold (used/max fraction) and for instead");
  } else if (SLI_KINDS.includes(kind)) {
    const v = o.objective;
    if (v === undefined) {
      p.add(`${at}.objective`, "is required: the percentage of good requests, like 99 or 99.5");
    } else if (typeof v !== "number" || !Number.isFinite(v)) {
      p.add(`${at}.objective`, `${show(v)} must be a number, the percentage of good requests, like 99 or 99.5`);
    } else if (v > 0 && v < 1) {
      p.add(`${at}.objective`, `${v} looks like a fraction; write the objective in percent (${+(v * 100).toFixed(4)} for ${v})`);
    } else if (!(v >= 50 && v <= 99.99)) {
      p.add(`${at}.objective`, `${v} is out of range; allowed: 50 to 99.99 (percent of good requests; 100 leaves no error budget)`);
    } else {
      objective = v / 100;
    }
  }

  // Window: whole days, 7d to 90d.
  let window: Duration | undefined;
  const wv = o.window ?? (kind === "saturation" ? "28d" : undefined);
  if (wv === undefined) {
    p.add(`${at}.window`, "is required: the compliance window in days, like 28d or 30d");
  } else {
    const d = typeof wv === "string" ? parseDuration(wv) : undefined;
    if (!d || d.seconds % 86400 !== 0 || d.seconds < MIN_WINDOW_DAYS * 86400 || d.seconds > MAX_WINDOW_DAYS * 86400) {
      p.add(`${at}.window`, `${show(wv)} is not allowed; it must be whole days from ${MIN_WINDOW_DAYS}d to ${MAX_WINDOW_DAYS}d, like 28d or 30d`);
    } else {
      window = d;
    }
  }

  let threshold: number | undefined;
  let buckets: number[] | undefined;
  let forDuration: Duration | undefined;
  if (kind === "latency") {
    threshold = parseLatency(o.threshold, `${at}.threshold`, p);
    const defaults = metrics === "otel-legacy" ? OTEL_LEGACY_DEFAULT_BUCKETS : OTEL_DEFAULT_BUCKETS;
    buckets = o.buckets === undefined ? defaults : parseBuckets(o.buckets, `${at}.buckets`, p);
    if (threshold !== undefined && buckets !== undefined && !buckets.some((b) => sameBoundary(b, threshold!))) {
      const declared = o.buckets === undefined ? `the default ${metrics} buckets` : "the declared buckets";
      p.add(
        `${at}.threshold`,
        `${show(o.threshold)} (${threshold}s) is not a bucket boundary of ${declared} (${buckets.join(", ")}): the SLI counts requests ` +
          `from the bucket le="${threshold}", which would not exist. Add ${threshold} to the application's histogram with an SDK View ` +
          `(docs/metrics.md) and list it in ${at.replace(/\.threshold$/, "")}.buckets, or pick a boundary`,
      );
    }
    if (o.for !== undefined) p.add(`${at}.for`, "is only used by saturation SLOs");
  } else if (kind === "saturation") {
    const t = o.threshold;
    if (typeof t !== "number" || !(t > 0 && t < 1)) {
      p.add(`${at}.threshold`, `${show(t)} must be the used/max fraction above which the pool is saturated, between 0 and 1 (like 0.9)`);
    } else {
      threshold = t;
    }
    const fv = o.for ?? "10m";
    const d = typeof fv === "string" ? parseDuration(fv) : undefined;
    if (!d || d.seconds < 60 || d.seconds > 6 * 3600) {
      p.add(`${at}.for`, `${show(fv)} must be a duration from 1m to 6h (how long the pool stays above the threshold), like 10m`);
    } else {
      forDuration = d;
    }
    if (o.buckets !== undefined) p.add(`${at}.buckets`, "is only used by latency SLOs");
  } else if (kind === "availability") {
    if (o.threshold !== undefined) p.add(`${at}.threshold`, "is not used by availability SLOs (errors are 5xx responses)");
    if (o.buckets !== undefined) p.add(`${at}.buckets`, "is only used by latency SLOs");
    if (o.for !== undefined) p.add(`${at}.for`, "is only used by saturation SLOs");
  }

  let minRequests = 20;
  if (o.minRequests !== undefined) {
    const v = o.minRequests;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 1_000_000) {
      p.add(`${at}.minRequests`, `${show(v)} must be a whole number from 1 to 1000000`);
    } else {
      minRequests = v;
    }
  }

  let health: HealthSignal | undefined;
  if (o.health !== undefined) {
    if (!HEALTH_SIGNALS.includes(o.health as HealthSignal)) {
      p.add(`${at}.health`, `${show(o.health)} is not allowed; allowed: ${HEALTH_SIGNALS.join(", ")}`);
    } else {
      health = o.health as HealthSignal;
    }
  }

  const alerting = parseAlerting(o.alerting, `${at}.alerting`, p);

  if (p.items.length !== before) return undefined;
  return {
    name: name as string,
    service: service as string,
    kind,
    ...(typeof description === "string" ? { description } : {}),
    selector,
    ...(objective !== undefined ? { objective } : {}),
    window: window!,
    ...(threshold !== undefined ? { threshold } : {}),
    ...(buckets !== undefined ? { buckets } : {}),
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    metrics,
    minRequests,
    ...(health !== undefined ? { health } : {}),
    alerting,
  };
}

function parseSelector(raw: unknown, at: string, kind: SliKind, p: ConfigProblems): SloSelector {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(at, `must be an object like {route: /orders, method: POST}, got ${show(raw)}`);
    return {};
  }
  const o = raw as Record<string, unknown>;
  const sel: SloSelector = {};
  for (const field of Object.keys(o)) {
    if (!SELECTOR_FIELDS.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${SELECTOR_FIELDS.join(", ")}${didYouMean(field, SELECTOR_FIELDS)}`);
  }
  if (o.route !== undefined) {
    if (kind === "saturation") p.add(`${at}.route`, "is only used by latency and availability SLOs");
    else if (typeof o.route !== "string" || !/^\/\S*$/.test(o.route)) p.add(`${at}.route`, `${show(o.route)} must be a route template starting with /, like /orders/{id}`);
    else if (templateProblem(o.route)) p.add(`${at}.route`, `${show(o.route)} ${templateProblem(o.route)}`);
    else sel.route = o.route;
  }
  if (o.method !== undefined) {
    if (kind === "saturation") p.add(`${at}.method`, "is only used by latency and availability SLOs");
    else if (typeof o.method !== "string" || !HTTP_METHODS.includes(o.method)) p.add(`${at}.method`, `${show(o.method)} is not allowed; allowed: ${HTTP_METHODS.join(", ")}`);
    else sel.method = o.method;
  }
  if (o.pool !== undefined) {
    if (kind !== "saturation") p.add(`${at}.pool`, "is only used by saturation SLOs");
    else if (typeof o.pool !== "string" || o.pool === "") p.add(`${at}.pool`, `${show(o.pool)} must be a connection pool name`);
    else if (templateProblem(o.pool)) p.add(`${at}.pool`, `${show(o.pool)} ${templateProblem(o.pool)}`);
    else sel.pool = o.pool;
  }
  if (o.job !== undefined) {
    if (typeof o.job !== "string" || !SERVICE_RE.test(o.job)) p.add(`${at}.job`, `${show(o.job)} must be a job label value`);
    else sel.job = o.job;
  }
  return sel;
}

function parseAlerting(raw: unknown, at: string, p: ConfigProblems): SloAlerting {
  const result: SloAlerting = { pageSeverity: "page", ticketSeverity: "ticket", saturationSeverity: "ticket", labels: {} };
  if (raw === undefined) return result;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(at, `must be an object like {pageSeverity: page, labels: {team: x}}, got ${show(raw)}`);
    return result;
  }
  const o = raw as Record<string, unknown>;
  for (const field of Object.keys(o)) {
    if (!ALERTING_FIELDS.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${ALERTING_FIELDS.join(", ")}${didYouMean(field, ALERTING_FIELDS)}`);
  }
  for (const field of ["pageSeverity", "ticketSeverity", "saturationSeverity"] as const) {
    const v = o[field];
    if (v === undefined) continue;
    if (!ALERT_SEVERITIES.includes(v as AlertSeverity)) p.add(`${at}.${field}`, `${show(v)} is not allowed; allowed: ${ALERT_SEVERITIES.join(", ")}`);
    else result[field] = v as AlertSeverity;
  }
  if (o.labels !== undefined) {
    if (typeof o.labels !== "object" || o.labels === null || Array.isArray(o.labels)) {
      p.add(`${at}.labels`, `must be an object of label name to value, got ${show(o.labels)}`);
    } else {
      for (const [k, v] of Object.entries(o.labels)) {
        if (!LABEL_NAME_RE.test(k) || k.startsWith("__")) p.add(`${at}.labels.${k}`, "is not a valid Prometheus label name");
        else if (RESERVED_LABELS.includes(k)) p.add(`${at}.labels.${k}`, `is set by the SLO generator itself; reserved: ${RESERVED_LABELS.join(", ")}`);
        else if (typeof v !== "string" || v === "") p.add(`${at}.labels.${k}`, `${show(v)} must be a non-empty string`);
        else if (templateProblem(v)) p.add(`${at}.labels.${k}`, `${show(v)} ${templateProblem(v)}`);
        else result.labels[k] = v;
      }
    }
  }
  return result;
}

/** `400ms`, `0.4s` or a number of seconds. */
function parseLatency(v: unknown, at: string, p: ConfigProblems): number | undefined {
  let seconds: number | undefined;
  if (typeof v === "number" && Number.isFinite(v)) seconds = v;
  else if (typeof v === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$/.exec(v);
    if (m) seconds = m[2] === "ms" ? Number(m[1]) / 1000 : Number(m[1]);
  }
  if (v === undefined) {
    p.add(at, "is required for latency SLOs: the latency a good request stays under, like 400ms");
    return undefined;
  }
  if (seconds === undefined || !(seconds > 0 && seconds <= 600)) {
    p.add(at, `${show(v)} must be a latency like 400ms or 1.5s (more than 0, at most 600s)`);
    return undefined;
  }
  return roundBoundary(seconds);
}

function parseBuckets(v: unknown, at: string, p: ConfigProblems): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.some((b) => typeof b !== "number" || !Number.isFinite(b) || b < 0)) {
    p.add(at, `must be a non-empty list of bucket boundaries in seconds (like [0.1, 0.25, 0.4, 0.5]), got ${show(v)}`);
    return undefined;
  }
  const list = v as number[];
  for (let i = 1; i < list.length; i++) {
    if (!(list[i] > list[i - 1])) {
      p.add(at, `must be strictly increasing; ${list[i]} follows ${list[i - 1]}`);
      return undefined;
    }
  }
  return list.map(roundBoundary);
}

function roundBoundary(x: number): number {
  return Number(x.toPrecision(12));
}

function sameBoundary(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
}
