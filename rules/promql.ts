/** PromQL text helpers shared by the rule generator and the dashboards: string literals, matchers, `le` values. */

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

/** `k="v", …` of the pairs whose value is set. */
export function matchers(pairs: [string, string | undefined][]): string {
  return pairs
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(", ");
}
