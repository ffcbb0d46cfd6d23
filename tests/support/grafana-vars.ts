/**
 * Grafana's template variables made concrete before a query is parsed (docs/testing.md, "Query grammars"): a
 * grammar sees the query as Grafana would send it on a fresh load.
 *
 * - Interval variables: `$__rate_interval` 5m, `$__interval` and `$__auto` 1m, `$__range` 1h.
 * - Dashboard variables (`$name`, `${name}`, `${name:fmt}`): the variable's current value; `All` becomes its
 *   allValue (or `.*`); `values` overrides.
 * - Data-link variables of correlations (`${__trace.traceId}`, `${__span.traceId}`, `${__span.spanId}`,
 *   `${__span.tags["…"]}`, `${__value.raw}`, any other `${__…}`): a value of the shape Grafana puts there (hex ids,
 *   a service name); `values` overrides, e.g. `__tags` (the matchers a trace → logs link builds from its tags).
 * - `$$` (a literal `$` in provisioning files, which Grafana interpolates from the environment) becomes `$`.
 * Anything still looking like a variable afterwards fails the caller: an unknown variable is never guessed.
 */
import { strict as assert } from "assert";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";

type Doc = Record<string, any>;

export const SAMPLE_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
export const SAMPLE_SPAN_ID = "00f067aa0ba902b7";
export const SAMPLE_SERVICE = "appointments-api";

const INTERVALS: [RegExp, string][] = [
  [/\$\{__rate_interval\}|\$__rate_interval/g, "5m"],
  [/\$\{__interval\}|\$__interval(?!_)/g, "1m"],
  [/\$\{__auto\}|\$__auto/g, "1m"],
  [/\$\{__range\}|\$__range(?!_)/g, "1h"],
];

/** Data-link variables, by name prefix. */
function linkValue(name: string): string {
  if (/^__trace\.traceId$|^__span\.traceId$/.test(name)) return SAMPLE_TRACE_ID;
  if (/^__span\.spanId$/.test(name)) return SAMPLE_SPAN_ID;
  if (/^__span\.tags\[/.test(name) || /^__span\.tags\./.test(name)) return SAMPLE_SERVICE;
  if (/^__value\./.test(name)) return SAMPLE_TRACE_ID;
  return "x";
}

export function concreteQuery(expr: string, d?: dashboard.Dashboard, values: Record<string, string> = {}): string {
  let out = expr.replace(/\$\$/g, "$");
  for (const [re, v] of INTERVALS) out = out.replace(re, v);
  for (const v of (d?.templating?.list ?? []) as Doc[]) {
    const cur = v.current?.value;
    const current = (Array.isArray(cur) ? cur : [cur]).filter((x: unknown) => typeof x === "string") as string[];
    const value = values[v.name] ?? (current.includes("$__all") ? (v.allValue ?? ".*") : current.join("|"));
    out = out.replace(new RegExp(`\\$\\{${v.name}(?::[a-z]+)?\\}|\\$${v.name}\\b`, "g"), value);
  }
  out = out.replace(/\$\{(__[^}]+)\}/g, (_, name: string) => values[name] ?? linkValue(name));
  assert.ok(!/\$\{?\w/.test(out), `unresolved Grafana variable in ${out}`);
  return out;
}
