/**
 * The alerting benchmark scenarios (issue 4) and their targets, shared by `npm run bench:alerts` and the promtool
 * unit-test generator. Times are minutes; the incident starts after a warm-up of healthy traffic as long as the
 * longest burn-rate window (3 days), so every window is full when it starts.
 */
import { healthy, Phase, Scenario } from "./alert-sim";
import type { AlertTimeline } from "./alert-sim";

export const WARMUP_MIN = 3 * 24 * 60;

export interface Target {
  /** Human statement of the target. */
  text: string;
  /** Checks our alerts' timelines (only alerts of this project: Slo*). */
  check(t: AlertTimeline[]): { ok: boolean; note: string };
}

export interface BenchScenario extends Scenario {
  target: Target;
}

const isPage = (t: AlertTimeline) => t.labels.severity === "page";
const ours = (ts: AlertTimeline[]) => ts.filter((t) => t.alertname.startsWith("Slo"));
const fmt = (m?: number) => (m === undefined ? "never" : `${m}m`);

function incident(id: string, title: string, warmup: number, bad: Phase[], after: Phase[], target: Target, seed = 7): BenchScenario {
  const badMin = bad.reduce((a, p) => a + p.minutes, 0);
  return {
    id,
    title,
    incidentStart: warmup,
    incidentEnd: warmup + badMin,
    phases: [...(warmup ? [healthy(warmup, { sparse: 4 })] : []), ...bad, ...after],
    seed,
    target,
  };
}

/** First firing time of any page / any alert among `ts`. */
function first(ts: AlertTimeline[], pred: (t: AlertTimeline) => boolean): number | undefined {
  const v = ts.filter(pred).map((t) => t.firstFire).filter((x): x is number => x !== undefined && x >= 0);
  return v.length ? Math.min(...v) : undefined;
}

const pageWithin = (minutes: number, slo: string): Target => ({
  text: `page ≤ ${minutes} min`,
  check: (ts) => {
    const f = first(ours(ts), (t) => isPage(t) && t.slo.includes(slo));
    return { ok: f !== undefined && f <= minutes, note: `first page ${fmt(f)}` };
  },
});

const nothing = (text: string, allowTicket = false): Target => ({
  text,
  check: (ts) => {
    const fired = ours(ts).filter((t) => t.firstFire !== undefined && (!allowTicket || isPage(t)));
    return { ok: fired.length === 0, note: fired.length ? `fired: ${fired.map((t) => t.alertname).join(", ")}` : "silent" };
  },
});

/** Builds the scenarios for a service's SLO names. */
export function benchScenarios(slo: { latency: string; availability: string; saturation: string }, warmup = WARMUP_MIN): BenchScenario[] {
  const h = (m: number, extra: Partial<Phase> = {}) => healthy(m, extra);
  return [
    {
      id: "healthy-3d",
      title: "healthy traffic with noise, 3 days",
      incidentStart: 0,
      phases: [h(3 * 24 * 60)],
      seed: 11,
      target: nothing("nothing fires (except the Watchdog)"),
    },
    incident("errors-100", "100 % errors on the route", warmup, [h(60, { errorRatio: 1, noise: false })], [h(60)], pageWithin(5, slo.availability)),
    incident("latency-2s", "every request takes 2 s", warmup, [h(60, { slowRatio: 1, slowLe: 2.5, noise: false })], [h(60)], pageWithin(10, slo.latency)),
    incident("p95-600ms", "p95 rises to 600 ms (≈ 20 % of requests slow)", warmup, [h(120, { slowRatio: 0.2, slowLe: 0.75 })], [h(30)], {
      text: "an alert ≤ 30 min (a ticket is fine)",
      check: (ts) => {
        const f = first(ours(ts), (t) => t.slo.includes(slo.latency));
        return { ok: f !== undefined && f <= 30, note: `first alert ${fmt(f)}` };
      },
    }),
    incident("errors-10pct", "10 % errors", warmup, [h(6 * 60, { errorRatio: 0.1 })], [h(30)], pageWithin(216, slo.availability)),
    incident("errors-2pct-2d", "2 % errors for 2 days", warmup, [h(2 * 24 * 60, { errorRatio: 0.02 })], [], {
      text: "ticket, never a page",
      check: (ts) => {
        const page = first(ours(ts), isPage);
        const ticket = first(ours(ts), (t) => t.labels.severity === "ticket" && t.slo.includes(slo.availability));
        return { ok: page === undefined && ticket !== undefined, note: `ticket ${fmt(ticket)}, page ${fmt(page)}` };
      },
    }),
    incident("errors-100-2min", "100 % errors for 2 minutes, then healthy", warmup, [h(2, { errorRatio: 1, noise: false })], [h(120)], {
      text: "no page",
      check: (ts) => {
        const page = first(ours(ts), isPage);
        return { ok: page === undefined, note: `page ${fmt(page)}` };
      },
    }),
    incident(
      "low-traffic",
      "0.05 req/s and one failed request; then 3 requests per 30 min, one failed",
      warmup,
      [
        { ...h(60, { rps: 0.05, noise: false, errorRatio: 0, slowRatio: 0 }), exactErrors: 1 },
        // Then 3 requests per 30 minutes, one of them failing: 33 % errors, but too few requests to page.
        { ...h(60, { rps: 1 / 600, noise: false, errorRatio: 0, slowRatio: 0 }), exactErrors: 1 },
      ],
      [],
      { text: "no page", check: (ts) => ({ ok: first(ours(ts), isPage) === undefined, note: `page ${fmt(first(ours(ts), isPage))}` }) },
    ),
    incident("db-95-30m", "DB pool at 95 % for 30 min", warmup, [h(30, { dbUsed: 0.95, noise: false })], [h(30)], {
      text: "alert ≤ 15 min",
      check: (ts) => {
        const f = first(ours(ts), (t) => t.slo.includes(slo.saturation) && t.alertname !== "SloServiceDown");
        return { ok: f !== undefined && f <= 15, note: `first alert ${fmt(f)}` };
      },
    }),
    incident("db-95-1m", "DB pool at 95 % for 1 min", warmup, [h(1, { dbUsed: 0.95, noise: false })], [h(60)], nothing("nothing")),
    incident("app-down", "app stops being scraped", warmup, [h(30, { present: false })], [h(30)], {
      text: "page ≤ 3 min",
      check: (ts) => {
        const f = first(ours(ts), (t) => t.alertname === "SloServiceDown");
        return { ok: f !== undefined && f <= 3, note: `SloServiceDown ${fmt(f)}` };
      },
    }),
    incident(
      "intermittent-4h",
      "route failing hard 1 min in every 10, for 4 hours, then healthy",
      warmup,
      Array.from({ length: 24 }, () => [h(1, { errorRatio: 1, noise: false }), h(9)]).flat(),
      [h(60)],
      {
        text: "one page per alert, open while it recurs (no firing/resolved pairs)",
        check: (ts) => {
          const pages = ours(ts).filter((t) => isPage(t) && t.slo.includes(slo.availability) && t.firstFire !== undefined);
          const storms = pages.filter((t) => t.episodes > 1);
          const note = pages.map((t) => `${t.alertname.replace(/^Slo/, "")} ${t.episodes}×`).join(", ") || "no page";
          return { ok: pages.length > 0 && storms.length === 0, note: `pages: ${note}` };
        },
      },
    ),
    incident("outage-30m", "30-min outage (100 % errors), then healthy", warmup, [h(30, { errorRatio: 1, noise: false })], [h(120)], {
      text: "fast page clears ≤ 10 min after the end, every page ≤ 30 min",
      check: (ts) => {
        const pages = ours(ts).filter((t) => isPage(t) && t.firstFire !== undefined);
        const clears = pages.map((t) => (t.lastClear ?? Infinity) - 30);
        const fast = pages.find((t) => t.alertname === "SloBurnRateFast");
        const fastClear = fast ? (fast.lastClear ?? Infinity) - 30 : undefined;
        const ok = fast !== undefined && fastClear! <= 10 && clears.every((c) => c <= 30);
        return { ok, note: `fast clears ${fastClear === undefined ? "n/a" : `+${fastClear}m`}, last page clears +${Math.max(...clears, 0)}m after the end` };
      },
    }),
  ];
}
