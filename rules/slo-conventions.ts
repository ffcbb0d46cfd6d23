/**
 * The names the SLO rules read and write: recorded series, the metric and label names of each metric convention
 * (docs/metrics.md), the runbook of each alert, and how a ratio is written for people. Nothing here is per SLO.
 */
import type { MetricConvention } from "../config/slo-spec";
import { matchers, q } from "./promql";

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

/** The used/max ratio of the busiest selected connection pool, and the series whose absence means "no metrics". */
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

/** A ratio as people read it: `99.5 %`. */
export function pct(x: number): string {
  return `${+(x * 100).toFixed(4)} %`;
}
