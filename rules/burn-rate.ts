/**
 * Burn-rate math of the ratio SLOs (docs/slos.md): which windows are recorded, each tier's bad-ratio threshold
 * after the cap, and the PromQL of a burn-rate alert. The tiers themselves (names, windows, factors) are the SLO
 * alert convention in config/slo-alerts.ts.
 */
import type { AlertSeverity } from "../config/severities";
import type { SloSpec } from "../config/slo-spec";
import { BURN_TIERS, type BurnTier } from "../config/slo-alerts";
import { parseDuration } from "../config/duration";
import { q } from "./promql";
import { RECORDS } from "./slo-conventions";

/** How long a window (`5m`, `6h`, `3d`) is, in seconds. */
export function windowSeconds(w: string): number {
  const d = parseDuration(w);
  if (!d) throw new Error(`not a Prometheus duration: ${w}`);
  return d.seconds;
}

/** Every window a ratio SLO records a request rate and an error ratio for. */
export const RATE_WINDOWS: readonly string[] = [...new Set(BURN_TIERS.flatMap((t) => [t.short, t.long]))].sort(
  (a, b) => windowSeconds(a) - windowSeconds(b),
);

/**
 * Windows of a day or more (the 3d ticket window) read days of raw samples: their records and the alert built on
 * them are evaluated once a minute instead of every 15 seconds (a quarter of the cost; the ticket tier waits
 * 15 minutes anyway).
 */
export const LONG_WINDOW_SECONDS = 86400;

/** `{ evaluation: "long" }` for a record or alert over `window` that belongs in the SLO's slower group. */
export function evaluationOf(window: string): { evaluation?: "long" } {
  return windowSeconds(window) >= LONG_WINDOW_SECONDS ? { evaluation: "long" } : {};
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

/** One tier applied to a ratio SLO: its thresholds after the cap. */
export function burnAlertModel(t: BurnTier, spec: SloSpec, severity: AlertSeverity): BurnAlertModel {
  const budget = 1 - spec.objective!;
  const badRatio = Math.min(t.burnRate * budget, t.maxBadRatio);
  const burnRate = badRatio / budget;
  return {
    tier: t.id,
    alert: t.alert,
    severity,
    longWindow: t.long,
    shortWindow: t.short,
    burnRate: +burnRate.toPrecision(6),
    badRatio: +badRatio.toPrecision(6),
    budgetSpentAtThreshold: +((burnRate * windowSeconds(t.long)) / spec.window.seconds).toPrecision(4),
    for: t.for,
    keepFiringFor: t.keepFiringFor,
    minRequests: spec.minRequests,
    ...(t.recurring ? { recurring: t.recurring } : {}),
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
export function burnExpr(b: BurnAlertModel, sel: string, slo: string): string {
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
