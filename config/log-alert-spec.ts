/**
 * The `logAlerts` stack-config key: alerts on log lines, declared as data and evaluated by Loki's ruler
 * (docs/configuration.md, docs/log-alerts.md). Built-in defaults cover the monitoring host's own services and every
 * service with an SLO (config/log-alert-defaults.ts); an entry with a default's name changes that default (only the fields
 * it sets), `enabled: false` turns it off, and an entry with a new name adds an alert.
 *
 * `parseLogAlerts` validates the raw value, reports every problem with its full key
 * (`monitoring-hosts:logAlerts[0].threshold`) into the config loader's problem list, and returns the effective list
 * (defaults merged with the entries). Every LogQL query is parsed here with Grafana's grammar, so a typo fails
 * `pulumi up` with the key named instead of a rule Loki silently refuses to load.
 *
 * This module must not import config/loader.ts (which imports it).
 */
import { ConfigProblems, didYouMean, show } from "./config-problems";
import { Duration, parseDuration } from "./duration";
import type { SloSpec } from "./slo-spec";
import { templateProblem } from "./value-checks";
import { APPLICATION_LOG_RUNBOOK, defaultLogAlerts, HOST_LOG_RUNBOOK, HOST_LOG_SERVICES, LOG_ALERT_DEFAULT_FILTER, serviceSelector } from "./log-alert-defaults";
import { logqlProblem } from "./logql";
import { ALERT_SEVERITIES, type AlertSeverity } from "./severities";

export const LOG_ALERT_MEASURES = ["count", "rate"] as const;
/** `count`: lines in the window; `rate`: lines per second averaged over the window. */
export type LogAlertMeasure = (typeof LOG_ALERT_MEASURES)[number];

/**
 * Labels the generator sets itself (or the query result carries) on every log alert; routing labels may not reuse
 * them. `slo` is kept for SLO alerts: a log alert relates to an SLO through its `service`.
 */
export const LOG_ALERT_RESERVED_LABELS = ["alertname", "severity", "service", "log_alert", "service_name", "slo", "__name__"];

/** One effective log alert (a default, possibly changed, or one of the stack's own). */
export interface LogAlertSpec {
  /** Unique, kebab-case; the `log_alert` label. */
  name: string;
  /** Prometheus-style alert name (the `alertname` label). */
  alert: string;
  /** The service the lines come from (`service_name` in Loki); the `service` label on the alert. */
  service: string;
  /** LogQL stream selector, like `{service_name="checkout-api"}`. */
  selector: string;
  /** LogQL pipeline after the selector (line and label filters), like `| detected_level="error"`; may be empty. */
  filter: string;
  measure: LogAlertMeasure;
  /** Fires when the measure is above this. */
  threshold: number;
  /** Range of the count/rate (LogQL `[window]`). */
  window: Duration;
  /** How long the condition must hold (`for`). */
  for: Duration;
  severity: AlertSeverity;
  /** Extra labels for Alertmanager routing (e.g. `team: payments`). */
  labels: Record<string, string>;
  summary: string;
  description: string;
  /** A file name under docs/runbooks/ without `.md`, or an absolute http(s) URL. */
  runbook: string;
  /** Where it came from: a built-in default for a host service or an SLO service, or the stack's own entry. */
  origin: "host" | "application" | "stack";
}

const FIELDS = [
  "name",
  "enabled",
  "alert",
  "service",
  "selector",
  "filter",
  "measure",
  "threshold",
  "window",
  "for",
  "severity",
  "labels",
  "summary",
  "description",
  "runbook",
];

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ALERT_RE = /^[A-Z][A-Za-z0-9]{0,99}$/;
const SERVICE_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,126}$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RUNBOOK_RE = /^([a-z0-9][a-z0-9-]*|https?:\/\/\S+)$/;
const MIN_WINDOW_S = 60;
const MAX_WINDOW_S = 24 * 3600;
const MAX_FOR_S = 24 * 3600;

/** `checkout-db-errors` → `CheckoutDbErrors`. */
export function alertNameOf(name: string): string {
  return name
    .split("-")
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
}

/**
 * Validates `logAlerts` (`raw` as written, undefined when unset; `key` fully qualified) and returns the effective
 * alerts: the defaults for `slos`' services and the host's services, changed or extended by the entries.
 */
export function parseLogAlerts(raw: unknown, key: string, p: ConfigProblems, slos: SloSpec[]): LogAlertSpec[] {
  const defaults = defaultLogAlerts(slos);
  if (raw === undefined || raw === null) return defaults;
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of log alerts ({name, service, filter, threshold, window, ...}; docs/log-alerts.md), got ${show(raw)}`);
    return defaults;
  }
  const byName = new Map(defaults.map((d) => [d.name, d] as const));
  const disabled = new Set<string>();
  const seen = new Map<string, number>();
  const added: LogAlertSpec[] = [];
  raw.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      p.add(at, `must be an object with name and service (and filter, threshold, window, ...), got ${show(item)}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const name = o.name;
    if (typeof name !== "string" || !NAME_RE.test(name)) {
      p.add(`${at}.name`, `${show(name)} must be lower-case letters, digits and dashes (at most 63), like "checkout-db-errors"`);
      return;
    }
    if (seen.has(name)) {
      p.add(`${at}.name`, `${show(name)} is already the name of ${key}[${seen.get(name)}]; log alert names must be unique`);
      return;
    }
    seen.set(name, i);
    const base = byName.get(name);
    const spec = parseOne(o, at, p, base);
    if (o.enabled === false) {
      if (!base) p.add(`${at}.enabled`, `false only turns off a built-in default (${defaults.map((d) => d.name).join(", ")}); ${show(name)} is not one`);
      disabled.add(name);
      return;
    }
    if (!spec) return;
    if (base) byName.set(name, spec);
    else added.push(spec);
  });
  const effective = [...[...byName.values()].filter((d) => !disabled.has(d.name)), ...added];
  // One alertname + service pair per alert: two rules sending the same labels would overwrite each other.
  const pairs = new Map<string, string>();
  for (const a of effective) {
    const pair = `${a.alert}/${a.service}/${JSON.stringify(a.labels)}`;
    const other = pairs.get(pair);
    if (other) p.add(key, `${show(a.name)} and ${show(other)} both send alert ${a.alert} for service ${a.service} with the same labels; give one another alert name`);
    pairs.set(pair, a.name);
  }
  return effective;
}

function parseOne(o: Record<string, unknown>, at: string, p: ConfigProblems, base: LogAlertSpec | undefined): LogAlertSpec | undefined {
  const before = p.items.length;
  for (const field of Object.keys(o)) {
    if (!FIELDS.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${FIELDS.join(", ")}${didYouMean(field, FIELDS)}`);
  }
  const name = o.name as string;
  if (o.enabled !== undefined && typeof o.enabled !== "boolean") p.add(`${at}.enabled`, `${show(o.enabled)} must be true or false`);
  if (o.enabled === false) return undefined;

  const str = (field: string, re: RegExp, what: string, fallback: string | undefined): string | undefined => {
    const v = o[field] ?? fallback;
    if (v === undefined) {
      p.add(`${at}.${field}`, `is required: ${what}`);
      return undefined;
    }
    if (typeof v !== "string" || !re.test(v)) {
      p.add(`${at}.${field}`, `${show(v)} must be ${what}`);
      return undefined;
    }
    return v;
  };

  const service = str("service", SERVICE_RE, 'the service the lines come from, as in Loki\'s service_name label (service.name), like "checkout-api"', base?.service);
  const alert = str("alert", ALERT_RE, 'an alert name in UpperCamelCase, like "CheckoutDbErrors"', base?.alert ?? alertNameOf(name));
  const severity = (o.severity ?? base?.severity ?? "ticket") as AlertSeverity;
  if (!ALERT_SEVERITIES.includes(severity)) {
    p.add(`${at}.severity`, `${show(o.severity)} is not allowed; allowed: ${ALERT_SEVERITIES.join(", ")}${didYouMean(o.severity, ALERT_SEVERITIES)}`);
  }
  const measure = (o.measure ?? base?.measure ?? "count") as LogAlertMeasure;
  if (!LOG_ALERT_MEASURES.includes(measure)) {
    p.add(`${at}.measure`, `${show(o.measure)} is not allowed; allowed: count (lines in the window), rate (lines per second over the window)`);
  }

  const threshold = o.threshold ?? base?.threshold;
  if (threshold === undefined) {
    p.add(`${at}.threshold`, "is required: the alert fires when the line count (or rate) is above it");
  } else if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold < 0) {
    p.add(`${at}.threshold`, `${show(threshold)} must be a number of at least 0 (lines in the window, or lines per second with measure: rate)`);
  } else if (measure === "count" && !Number.isInteger(threshold)) {
    p.add(`${at}.threshold`, `${threshold} must be a whole number of lines with measure: count (or set measure: rate for lines per second)`);
  }

  const duration = (field: "window" | "for", fallback: Duration | undefined, min: number, max: number, what: string): Duration | undefined => {
    const v = o[field];
    if (v === undefined) {
      if (fallback) return fallback;
      p.add(`${at}.${field}`, `is required: ${what}`);
      return undefined;
    }
    const d = typeof v === "string" ? parseDuration(v) : undefined;
    if (!d || d.seconds < min || d.seconds > max || !/^(\d+[hms])+$/.test(d.text)) {
      p.add(`${at}.${field}`, `${show(v)} is not allowed; it must be ${what}, using h, m and s (like 5m or 1h30m)`);
      return undefined;
    }
    return d;
  };
  const window = duration("window", base?.window ?? parseDuration("5m"), MIN_WINDOW_S, MAX_WINDOW_S, "a duration from 1m to 24h (the range lines are counted over)");
  const forDuration = duration("for", base?.for ?? parseDuration("0s"), 0, MAX_FOR_S, "a duration from 0s to 24h (how long the condition must hold)");

  const labels: Record<string, string> = { ...(base?.labels ?? {}) };
  if (o.labels !== undefined) {
    if (typeof o.labels !== "object" || o.labels === null || Array.isArray(o.labels)) {
      p.add(`${at}.labels`, `must be an object of label name to value (for Alertmanager routing, like {team: payments}), got ${show(o.labels)}`);
    } else {
      for (const [k, v] of Object.entries(o.labels)) {
        if (!LABEL_NAME_RE.test(k)) p.add(`${at}.labels.${k}`, "is not a valid label name (letters, digits, underscores; not starting with a digit)");
        else if (LOG_ALERT_RESERVED_LABELS.includes(k)) p.add(`${at}.labels.${k}`, `is set by the generator; reserved: ${LOG_ALERT_RESERVED_LABELS.join(", ")}`);
        else if (typeof v !== "string" || v === "") p.add(`${at}.labels.${k}`, `${show(v)} must be a non-empty string`);
        else if (templateProblem(v)) p.add(`${at}.labels.${k}`, templateProblem(v)!);
        else labels[k] = v;
      }
    }
  }

  const text = (field: "summary" | "description" | "runbook", fallback: string | undefined, re?: RegExp, what?: string): string | undefined => {
    const v = o[field] ?? fallback;
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.trim() === "" || (re && !re.test(v))) {
      p.add(`${at}.${field}`, `${show(v)} must be ${what ?? "a non-empty string"}`);
      return undefined;
    }
    // Loki refuses the whole rule group when an annotation template does not parse; unbalanced braces are the
    // common mistake (the tests run promtool on the shipped configs for the rest).
    if (field !== "runbook" && (v.split("{{").length !== v.split("}}").length || /\}\}[^{]*\}\}/.test(v.replace(/\{\{[^}]*\}\}/g, "")))) {
      p.add(`${at}.${field}`, `${show(v)} has unbalanced {{ }}: it is a Go template ({{ $value }}, {{ $labels.service_name }})`);
      return undefined;
    }
    return v;
  };
  // A default's texts quote its threshold and window: changed numbers get the generated texts instead.
  const changed = ["selector", "filter", "measure", "threshold", "window"].some((f) => o[f] !== undefined);
  const summary = text("summary", changed ? undefined : base?.summary);
  const description = text("description", changed ? undefined : base?.description);
  const runbook = text(
    "runbook",
    // The two log-alert runbooks are generic: a host service's, or an application's (from the lines to the trace).
    base?.runbook ?? (service && service in HOST_LOG_SERVICES ? HOST_LOG_RUNBOOK : APPLICATION_LOG_RUNBOOK),
    RUNBOOK_RE,
    "a file name under docs/runbooks/ without .md (like application-log-errors) or an http(s) URL",
  );

  const selector = o.selector ?? base?.selector ?? (service ? serviceSelector(service) : undefined);
  const filter = o.filter ?? base?.filter ?? LOG_ALERT_DEFAULT_FILTER;
  if (typeof selector !== "string") p.add(`${at}.selector`, `${show(selector)} must be a LogQL stream selector, like {service_name="checkout-api"}`);
  if (typeof filter !== "string") p.add(`${at}.filter`, `${show(filter)} must be a LogQL pipeline, like | detected_level="error" |= "timeout"`);
  if (typeof selector === "string" && typeof filter === "string") {
    const selectorProblem = logqlProblem(selector, "log");
    if (selectorProblem) p.add(`${at}.selector`, `${show(selector)} ${selectorProblem}`);
    else if (!/^\s*\{[^}]*\}\s*$/.test(selector)) p.add(`${at}.selector`, `${show(selector)} must be only a stream selector {…}; put filters in filter`);
    else {
      const filterProblem = filter.trim() === "" ? undefined : logqlProblem(`${selector} ${filter}`, "log");
      if (filterProblem) p.add(`${at}.filter`, `${show(filter)} after the selector ${filterProblem}`);
    }
  }

  if (p.items.length > before) return undefined;
  const origin = base?.origin ?? "stack";
  return {
    name,
    alert: alert!,
    service: service!,
    selector: (selector as string).trim(),
    filter: (filter as string).trim(),
    measure,
    threshold: threshold as number,
    window: window!,
    for: forDuration!,
    severity,
    labels,
    summary: summary ?? `{{ $value }} matching log lines from ${service} in ${window!.text}`,
    description:
      description ??
      // The LogQL is not quoted here: a `line_format` template in it would be read as an alert template.
      `{{ $labels.service_name }} logged {{ $value }} lines matching log alert ${name} ` +
        `${measure === "rate" ? "per second over" : "in"} the last ${window!.text} (threshold ${threshold}).`,
    runbook: runbook!,
    origin,
  };
}
