/**
 * Synthetic traffic for evaluating the SLO rules with the real Prometheus rule engine (`promtool test rules`).
 * Used by the promtool unit-test generator (tests/rules/) and by `npm run bench:alerts`; not by the program.
 *
 * A scenario is a list of phases (minutes of traffic with a request rate, error ratio, slow ratio, DB pool use and
 * whether the app is there at all). It becomes cumulative counters sampled every minute, exactly like the series an
 * OpenTelemetry SDK exports: per status code a request count and histogram buckets, a DB pool gauge, target_info/up.
 */
import * as fs from "fs";
import * as path from "path";
import { spawn } from "child_process";
import { HTTP_METRICS } from "../../rules/slo-conventions";
import type { SloSpec } from "../../config/slo-spec";

export interface Phase {
  minutes: number;
  /** Requests per second on the SLO route. */
  rps: number;
  errorRatio: number;
  slowRatio: number;
  /** Upper `le` of the bucket slow requests fall into (default 0.5: just over 400 ms). */
  slowLe?: number;
  /** DB pool use (used/max). */
  dbUsed: number;
  /** The app and all its series exist (false: its series go stale, like a target that disappeared). */
  present?: boolean;
  /** Multiplicative noise on rps/errors/slow (0 = none) and rare one-minute spikes. */
  noise?: boolean;
  /** Exact number of failed requests in this phase, placed in its first minute (low-traffic scenarios). */
  exactErrors?: number;
  /**
   * Keep only every Nth sample of this phase (the others are `_`, missing). Warm-up phases use 4: the long windows
   * still see the history, promtool reads a quarter of the samples, and 4 minutes stay inside the 5m lookback.
   */
  sparse?: number;
}

export interface Scenario {
  id: string;
  title: string;
  /** Minute (from the start of the series) at which the incident starts; times are reported relative to it. */
  incidentStart: number;
  /** Minute at which the incident ends (for clear times), if it ends. */
  incidentEnd?: number;
  phases: Phase[];
  seed: number;
}

/** Bucket boundaries emitted by the simulator (seconds). Must include every latency SLO threshold it serves. */
export const SIM_BUCKETS = [0.1, 0.25, 0.4, 0.5, 0.75, 1, 2.5, 5];

export const HEALTHY: Omit<Phase, "minutes"> = { rps: 5, errorRatio: 0.002, slowRatio: 0.015, dbUsed: 0.45, noise: true };

export function healthy(minutes: number, extra: Partial<Phase> = {}): Phase {
  return { minutes, ...HEALTHY, ...extra };
}

export function totalMinutes(s: Scenario): number {
  return s.phases.reduce((a, p) => a + p.minutes, 0);
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InputSeries {
  series: string;
  values: string;
}

/** The series of one scenario for the service of `specs` (the route/method of its first ratio SLO). */
export function scenarioSeries(s: Scenario, specs: SloSpec[]): InputSeries[] {
  const ratio = specs.find((x) => x.kind !== "saturation");
  const service = specs[0].service;
  const names = HTTP_METRICS[(ratio?.metrics === "otel-legacy" ? "otel-legacy" : "otel") as "otel" | "otel-legacy"];
  const route = ratio?.selector.route ?? "/";
  const method = ratio?.selector.method ?? "GET";
  const rand = mulberry32(s.seed);
  const n = totalMinutes(s) + 1;
  // The simulator's boundaries plus every latency threshold of the service, so each latency SLI has its bucket.
  const buckets = [...new Set([...SIM_BUCKETS, ...specs.filter((x) => x.kind === "latency" && x.threshold).map((x) => x.threshold!)])].sort((a, b) => a - b);

  // Cumulative counters.
  const ok = { count: 0, buckets: buckets.map(() => 0) };
  const err = { count: 0, buckets: buckets.map(() => 0) };
  let other = 0;
  const cols = {
    okCount: [] as string[],
    errCount: [] as string[],
    okB: buckets.map(() => [] as string[]),
    errB: buckets.map(() => [] as string[]),
    okInf: [] as string[],
    errInf: [] as string[],
    other: [] as string[],
    used: [] as string[],
    idle: [] as string[],
    max: [] as string[],
    present: [] as string[],
  };
  const fmt = (x: number) => String(Math.round(x * 1000) / 1000);
  // One phase per sample minute (0..total inclusive; the last sample repeats the last phase).
  const timeline: { ph: Phase; first: boolean }[] = [];
  for (const ph of s.phases) for (let i = 0; i < ph.minutes; i++) timeline.push({ ph, first: i === 0 });
  timeline.push({ ph: s.phases[s.phases.length - 1], first: false });
  const allCols = () => [cols.okCount, cols.errCount, cols.okInf, cols.errInf, cols.other, cols.used, cols.idle, cols.max, cols.present, ...cols.okB, ...cols.errB];
  let wasPresent = true;
  let index = 0;
  for (const { ph, first } of timeline.slice(0, n)) {
    const skip = ph.sparse !== undefined && ph.sparse > 1 && index++ % ph.sparse !== 0 && !first;
    if (ph.present === false) {
      const mark = wasPresent ? "stale" : "_";
      for (const col of allCols()) col.push(mark);
      wasPresent = false;
      continue;
    }
    wasPresent = true;
    const jitter = (amp: number) => (ph.noise ? 1 + amp * (rand() * 2 - 1) : 1);
    const reqs = ph.rps * 60 * jitter(0.3);
    let errRatio = ph.errorRatio * jitter(0.5);
    let slowRatio = ph.slowRatio * jitter(0.5);
    // Rare one-minute spikes: a burst of errors or slow requests that must never page.
    if (ph.noise && rand() < 0.004) errRatio = Math.max(errRatio, 0.3);
    if (ph.noise && rand() < 0.004) slowRatio = Math.max(slowRatio, 0.4);
    let errors = reqs * Math.min(errRatio, 1);
    let total = reqs;
    if (ph.exactErrors !== undefined) {
      errors = first ? ph.exactErrors : 0;
      total = Math.max(reqs, errors);
    }
    const good = total - errors;
    const slowLe = ph.slowLe ?? 0.5;
    // Successes and errors share the latency distribution: fast ones in le 0.1/0.25/0.4, slow ones at slowLe.
    const add = (acc: { count: number; buckets: number[] }, k: number) => {
      acc.count += k;
      const slow = k * Math.min(slowRatio, 1);
      const fast = k - slow;
      buckets.forEach((le, j) => {
        let inBucket = le >= 0.4 ? fast : le >= 0.25 ? fast * 0.9 : fast * 0.6;
        if (le >= slowLe) inBucket += slow;
        acc.buckets[j] += inBucket;
      });
    };
    add(ok, good);
    add(err, errors);
    other += 2 * 60;
    cols.okCount.push(fmt(ok.count));
    cols.errCount.push(fmt(err.count));
    cols.okInf.push(fmt(ok.count));
    cols.errInf.push(fmt(err.count));
    buckets.forEach((_, j) => {
      cols.okB[j].push(fmt(ok.buckets[j]));
      cols.errB[j].push(fmt(err.buckets[j]));
    });
    cols.other.push(fmt(other));
    const maxConn = 20;
    const used = Math.min(maxConn, Math.max(0, maxConn * ph.dbUsed * (ph.noise ? 1 + 0.1 * (rand() * 2 - 1) : 1)));
    cols.used.push(fmt(used));
    cols.idle.push(fmt(maxConn - used));
    cols.max.push(String(maxConn));
    cols.present.push("1");
    if (skip) for (const col of allCols()) col[col.length - 1] = "_";
  }

  const lbl = (o: Record<string, string>) =>
    "{" + Object.entries(o).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ") + "}";
  const base = { job: service, instance: "i-0a1", [names.route]: route, [names.method]: method };
  const leText = (le: number) => String(le * names.leScale);
  const out: InputSeries[] = [];
  const push = (metric: string, labels: Record<string, string>, values: string[]) => out.push({ series: metric + lbl(labels), values: values.join(" ") });
  for (const [code, acc] of [["201", "ok"], ["500", "err"]] as const) {
    const c = acc === "ok" ? cols.okCount : cols.errCount;
    push(names.count, { ...base, [names.status]: code }, c);
    buckets.forEach((le, j) => push(names.bucket, { ...base, [names.status]: code, le: leText(le) }, (acc === "ok" ? cols.okB : cols.errB)[j]));
    push(names.bucket, { ...base, [names.status]: code, le: "+Inf" }, acc === "ok" ? cols.okInf : cols.errInf);
  }
  // Another route of the same service failing all the time: must not count towards the SLO.
  push(names.count, { ...base, [names.route]: "/healthz", [names.method]: "GET", [names.status]: "503" }, cols.other);
  const pool = { job: service, instance: "i-0a1", db_client_connection_pool_name: "main" };
  push("db_client_connection_count", { ...pool, db_client_connection_state: "used" }, cols.used);
  push("db_client_connection_count", { ...pool, db_client_connection_state: "idle" }, cols.idle);
  push("db_client_connection_max", pool, cols.max);
  push("target_info", { job: service, instance: "i-0a1" }, cols.present);
  push("up", { job: service, instance: "i-0a1" }, cols.present);
  return out;
}

export interface AlertTimeline {
  alertname: string;
  slo: string;
  labels: Record<string, string>;
  /** Minutes after the incident start (negative: before it). */
  firstFire?: number;
  firstClear?: number;
  lastClear?: number;
  episodes: number;
  firingMinutes: number;
}

const RISING = `(ALERTS{alertstate="firing"} unless ALERTS{alertstate="firing"} offset 1m)`;
const FALLING = `(ALERTS{alertstate="firing"} offset 1m unless ALERTS{alertstate="firing"})`;
/** The promql_expr_test expressions that summarise every alert's history (the ALERTS series trick). */
export function timelineExprs(endMin: number): Record<"firstFire" | "firstClear" | "lastClear" | "episodes" | "firing", string> {
  const r = `[${endMin}m:1m]`;
  return {
    firstFire: `min_over_time(timestamp${RISING}${r})`,
    firstClear: `min_over_time(timestamp${FALLING}${r})`,
    lastClear: `max_over_time(timestamp${FALLING}${r})`,
    episodes: `count_over_time(${RISING}${r})`,
    firing: `count_over_time(ALERTS{alertstate="firing"}[${endMin}m])`,
  };
}

/** A promtool test file that evaluates `ruleFiles` on the scenario and asks for the timelines (always "fails"). */
export function timelineTestFile(s: Scenario, specs: SloSpec[], ruleFiles: string[]): string {
  const end = totalMinutes(s);
  const exprs = timelineExprs(end);
  const doc = {
    rule_files: ruleFiles,
    evaluation_interval: "1m",
    tests: [
      {
        interval: "1m",
        input_series: scenarioSeries(s, specs),
        promql_expr_test: Object.values(exprs).map((expr) => ({
          expr,
          eval_time: `${end}m`,
          exp_samples: [{ labels: 'timeline_probe{}', value: -1 }],
        })),
      },
    ],
  };
  return JSON.stringify(doc);
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]] = JSON.parse(`"${m[2]}"`);
  return out;
}

/** Parses promtool's failure report of the timeline probes. */
export function parseTimelines(output: string, s: Scenario): AlertTimeline[] {
  const end = totalMinutes(s);
  const exprs = timelineExprs(end);
  const byKey = new Map<string, AlertTimeline>();
  const blocks = output.split(/\n\s*expr: /).slice(1);
  for (const block of blocks) {
    const exprText = JSON.parse(block.slice(0, block.indexOf(", time:")));
    const which = (Object.keys(exprs) as (keyof typeof exprs)[]).find((k) => exprs[k] === exprText);
    if (!which) continue;
    const got = block.slice(block.indexOf("got:") + 4);
    for (const m of got.matchAll(/\{([^}]*)\}\s+([-+0-9.eE]+|NaN)/g)) {
      const labels = parseLabels(m[1]);
      const value = Number(m[2]);
      const key = `${labels.alertname}|${labels.slo ?? ""}`;
      let t = byKey.get(key);
      if (!t) {
        const { alertstate: _a, ...rest } = labels;
        t = { alertname: labels.alertname, slo: labels.slo ?? "", labels: rest, episodes: 0, firingMinutes: 0 };
        byKey.set(key, t);
      }
      const rel = value / 60 - s.incidentStart;
      if (which === "firstFire") t.firstFire = rel;
      if (which === "firstClear") t.firstClear = rel;
      if (which === "lastClear") t.lastClear = rel;
      if (which === "episodes") t.episodes = value;
      if (which === "firing") t.firingMinutes = value;
    }
  }
  return [...byKey.values()].sort((a, b) => (a.firstFire ?? 0) - (b.firstFire ?? 0));
}

/** Runs promtool on a timeline test file; resolves with the parsed timelines. */
export function runTimeline(s: Scenario, specs: SloSpec[], ruleFiles: string[], dir: string): Promise<{ timelines: AlertTimeline[]; seconds: number }> {
  const file = path.join(dir, `${s.id}.test.json`);
  fs.writeFileSync(file, timelineTestFile(s, specs, ruleFiles));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("promtool", ["test", "rules", file], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => {
      if (!out.includes("got:")) return reject(new Error(`promtool did not evaluate ${s.id}:\n${out.slice(0, 2000)}`));
      resolve({ timelines: parseTimelines(out, s), seconds: (Date.now() - started) / 1000 });
    });
  });
}
