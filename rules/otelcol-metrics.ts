/**
 * The collector's own counters as PromQL, for the meta-alerts and the host dashboard alike.
 *
 * Each counter exists per signal and is named with or without `_total` depending on the collector's telemetry
 * exporter version. One `rate` per name, labelled with its signal: `rate({__name__=~…})` drops the names, and two
 * names with the same labels would make the whole expression fail to evaluate ("vector cannot contain metrics
 * with the same labelset") instead of returning a value.
 */
export const OTELCOL_SIGNALS = ["spans", "metric_points", "log_records"] as const;
export type OtelcolSignal = (typeof OTELCOL_SIGNALS)[number];

/** Per-second rate of `<prefix>_<signal>[_total]{matchers}` over `range`, with a `signal` label. */
export function otelcolSignalRate(prefix: string, signal: OtelcolSignal, range: string, matchers = ""): string {
  return ["_total", ""]
    .map((suffix) => `label_replace(rate(${prefix}_${signal}${suffix}{${matchers}}[${range}]), "signal", "${signal}", "", "")`)
    .join(" or ");
}

/** The same across every signal. */
export function otelcolRate(prefix: string, range: string, matchers = ""): string {
  return OTELCOL_SIGNALS.map((s) => otelcolSignalRate(prefix, s, range, matchers)).join(" or ");
}
