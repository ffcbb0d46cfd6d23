/**
 * Generates the promtool unit tests of the dev stack's SLO rules (tests/rules/dev/*.test.yml) next to a copy of
 * the rendered rule file they test. tests/slo-rules.spec.ts checks that the committed files equal what this
 * generator produces from the current config and generator (so they cannot go stale) and runs them.
 *
 *   npx tsx tests/rules/generate.ts      # rewrite tests/rules/dev/ after changing rules/ or the dev SLOs
 *   promtool test rules tests/rules/dev/*.test.yml
 *
 * Inputs are noise-free and written in promtool's expanding notation (`a+bxN` gives N+1 samples), one sample per
 * minute. Each file starts with healthy traffic at least as long as the longest window of the alerts it asserts
 * (6h for the page tiers, 3 days for the ticket tier). Expectations come from the issue's targets, not from a run:
 * "not firing at T1, firing (with exactly these labels) at T2" brackets the firing time; alert_rule_test checks the
 * annotations where the measured value is exact (a window entirely inside the incident reads 100 %).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { stackConfig } from "../support/stacks";
import { sloRuleFiles } from "../../rules/slo-rules";
import { buildSloModels, type AlertModel, type SloModel, type SloModels } from "../../rules/slo-model";
import type { StackConfig } from "../../config/stack-config";
import { alertAnnotations } from "../../rules/rule-file";

export const OUT_DIR = path.join(__dirname, "dev");

interface Phase {
  minutes: number;
  rps?: number;
  errorRatio?: number;
  slowRatio?: number;
  dbUsed?: number;
  present?: boolean;
  /** Failed requests in the first minute of the phase (on top of nothing else failing). */
  oneOffErrors?: number;
}

const HEALTHY = { rps: 5, errorRatio: 0.002, slowRatio: 0.015, dbUsed: 0.45 };

const num = (x: number) => String(Math.round(x * 10000) / 10000);

/** Samples of a phase in which the app is gone: a staleness marker, then missing samples (`_xN` = N of them). */
function absent(p: Phase, gone: boolean): string[] {
  if (gone) return [`_x${p.minutes}`];
  return p.minutes > 1 ? ["stale", `_x${p.minutes - 1}`] : ["stale"];
}

/** A counter in expanding notation, from 0 at t=0; `perMinute(p)` is its increase per minute during phase p. */
function counter(phases: Phase[], perMinute: (p: Phase) => number, firstMinuteExtra: (p: Phase) => number = () => 0): string {
  const parts = ["0"];
  let cur = 0;
  let gone = false;
  for (const p of phases) {
    if (p.present === false) {
      parts.push(...absent(p, gone));
      gone = true;
      continue;
    }
    gone = false;
    const inc = perMinute(p);
    let minutes = p.minutes;
    const extra = firstMinuteExtra(p);
    if (extra) {
      cur += inc + extra;
      parts.push(num(cur));
      minutes--;
    }
    if (minutes > 0) {
      // `a+bxN` gives N+1 samples: a, a+b, ..., a+N·b.
      if (inc === 0) {
        // A flat counter is written `axN` (promtool reads `a+0xN` as a hexadecimal number), nudged up by 0.0001:
        // promtool computes the previous segment's last value in floating point, and a value a hair below it
        // would read as a counter reset.
        cur += 0.0001;
        parts.push(`${num(cur)}x${minutes - 1}`);
      } else {
        parts.push(minutes === 1 ? num(cur + inc) : `${num(cur + inc)}+${num(inc)}x${minutes - 1}`);
        cur += inc * minutes;
      }
    }
  }
  return parts.join(" ");
}

/** A gauge in expanding notation (its value at t=0 comes from the first phase). */
function gauge(phases: Phase[], value: (p: Phase) => number): string {
  const parts = [num(value(phases[0]))];
  let gone = false;
  for (const p of phases) {
    if (p.present === false) {
      parts.push(...absent(p, gone));
      gone = true;
      continue;
    }
    gone = false;
    parts.push(`${num(value(p))}x${p.minutes - 1}`);
  }
  return parts.join(" ");
}

function inputSeries(cfg: StackConfig, phases: Phase[], instance = "10.0.1.5:8080"): { series: string; values: string }[] {
  const ratio = cfg.slos.find((s) => s.kind === "latency")!;
  const job = ratio.service;
  const lbl = (o: Record<string, string>) => `{${Object.entries(o).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
  const base = { job, instance, http_route: ratio.selector.route!, http_request_method: ratio.selector.method! };
  const le = String(ratio.threshold);
  const v = (p: Phase) => ({ ...HEALTHY, ...p });
  const okPerMin = (p: Phase) => v(p).rps * 60 * (1 - v(p).errorRatio);
  const errPerMin = (p: Phase) => v(p).rps * 60 * v(p).errorRatio;
  const fast = (p: Phase) => 1 - v(p).slowRatio;
  const extra = (p: Phase) => p.oneOffErrors ?? 0;
  const out = [
    { series: `http_server_request_duration_seconds_count${lbl({ ...base, http_response_status_code: "201" })}`, values: counter(phases, okPerMin) },
    { series: `http_server_request_duration_seconds_count${lbl({ ...base, http_response_status_code: "500" })}`, values: counter(phases, errPerMin, extra) },
    {
      series: `http_server_request_duration_seconds_bucket${lbl({ ...base, http_response_status_code: "201", le })}`,
      values: counter(phases, (p) => okPerMin(p) * fast(p)),
    },
    {
      series: `http_server_request_duration_seconds_bucket${lbl({ ...base, http_response_status_code: "500", le })}`,
      values: counter(phases, (p) => errPerMin(p) * fast(p), extra),
    },
    // Another route of the service, failing all the time: must not count towards the route's SLOs.
    {
      series: `http_server_request_duration_seconds_count${lbl({ ...base, http_route: "/healthz", http_request_method: "GET", http_response_status_code: "503" })}`,
      values: counter(phases, () => 120),
    },
    {
      series: `db_client_connection_count${lbl({ job, instance, db_client_connection_pool_name: "main", db_client_connection_state: "used" })}`,
      values: gauge(phases, (p) => 20 * v(p).dbUsed),
    },
    {
      series: `db_client_connection_count${lbl({ job, instance, db_client_connection_pool_name: "main", db_client_connection_state: "idle" })}`,
      values: gauge(phases, (p) => 20 * (1 - v(p).dbUsed)),
    },
    { series: `db_client_connection_max${lbl({ job, instance, db_client_connection_pool_name: "main" })}`, values: gauge(phases, () => 20) },
    { series: `target_info${lbl({ job, instance })}`, values: gauge(phases, () => 1) },
    { series: `up${lbl({ job, instance })}`, values: gauge(phases, () => 1) },
  ];
  return out;
}

function labelText(labels: Record<string, string>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
}

/** Label set of the ALERTS series of an alert (for promql_expr_test). */
function alertsSeries(a: AlertModel, state = "firing"): string {
  const labels: Record<string, string> = { __name__: "ALERTS", alertname: a.alert, alertstate: state, ...a.labels };
  const { __name__: _n, ...rest } = labels;
  return `ALERTS{${Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}}`;
}

class Builder {
  readonly promql: unknown[] = [];
  readonly alertTests: unknown[] = [];

  constructor(private readonly cfg: StackConfig) {}

  /** At minute t the alert is firing, with exactly the model's labels. */
  firing(a: AlertModel, t: number, why: string): void {
    this.promql.push({
      expr: `ALERTS{alertname=${JSON.stringify(a.alert)}, alertstate="firing", slo=${JSON.stringify(a.labels.slo)}}`,
      eval_time: `${t}m`,
      exp_samples: [{ labels: alertsSeries(a), value: 1 }],
      // promtool ignores unknown keys? It does not: the reason goes into a YAML comment instead (see render()).
      _why: why,
    });
  }

  /** At minute t the alert is not firing. */
  notFiring(alert: string, slo: string | undefined, t: number, why: string): void {
    const sloSel = slo ? `, slo=${JSON.stringify(slo)}` : "";
    this.promql.push({ expr: `ALERTS{alertname=${JSON.stringify(alert)}, alertstate="firing"${sloSel}}`, eval_time: `${t}m`, exp_samples: [], _why: why });
  }

  /** A PromQL expression's exact result at minute t. */
  expr(expr: string, t: number, samples: { labels: string; value: number }[], why: string): void {
    this.promql.push({ expr, eval_time: `${t}m`, exp_samples: samples, _why: why });
  }

  /** No alert matching `matchers` fired at any evaluation in (t - range, t]. */
  silent(matchers: string, t: number, range: number, why: string): void {
    this.promql.push({ expr: `count_over_time(ALERTS{alertstate="firing", ${matchers}}[${range}m])`, eval_time: `${t}m`, exp_samples: [], _why: why });
  }

  /** alert_rule_test: at minute t exactly these alerts of that name fire, with labels and annotations. */
  exact(alertname: string, t: number, alerts: { a: AlertModel; value: string }[], why: string): void {
    this.alertTests.push({
      eval_time: `${t}m`,
      alertname,
      exp_alerts: alerts.map(({ a, value }) => ({
        exp_labels: a.labels,
        exp_annotations: { ...alertAnnotations(a, this.cfg), description: a.annotations.description.replace("{{ $value | humanizePercentage }}", value) },
      })),
      _why: why,
    });
  }
}

function render(
  ruleFile: string,
  title: string,
  phases: Phase[],
  cfg: StackConfig,
  b: Builder,
  evaluationInterval = "1m",
  secondInstance?: Phase[],
): string {
  const strip = (x: unknown[]) => x.map((o) => Object.fromEntries(Object.entries(o as object).filter(([k]) => k !== "_why")));
  const doc = new YAML.Document({
    rule_files: [ruleFile],
    evaluation_interval: evaluationInterval,
    tests: [
      {
        interval: "1m",
        input_series: [...inputSeries(cfg, phases), ...(secondInstance ? inputSeries(cfg, secondInstance, "10.0.2.7:8080") : [])],         alert_rule_test: strip(b.alertTests),
        promql_expr_test: strip(b.promql),
      },
    ],
  });
  // Put each expectation's reason above it as a comment.
  const t = doc.get("tests") as YAML.YAMLSeq;
  const group = t.items[0] as YAML.YAMLMap;
  for (const [key, list] of [["alert_rule_test", b.alertTests], ["promql_expr_test", b.promql]] as const) {
    const seq = group.get(key) as YAML.YAMLSeq;
    seq.items.forEach((item, i) => ((item as YAML.YAMLMap).commentBefore = ` ${(list[i] as { _why: string })._why}`));
  }
  let at = 0;
  const timeline = phases.map((p) => {
    const s = `${at}-${at + p.minutes}m: ${describe(p)}`;
    at += p.minutes;
    return s;
  });
  doc.commentBefore =
    ` GENERATED by tests/rules/generate.ts from the dev stack's SLOs — do not edit; regenerate.\n ${title}\n` +
    ` Timeline (one sample per minute):\n` +
    timeline.map((l) => `   ${l}`).join("\n");
  return doc.toString({ lineWidth: 0 });
}

function describe(p: Phase): string {
  if (p.present === false) return "the app is gone (its series go stale)";
  const v = { ...HEALTHY, ...p };
  const parts = [`${+v.rps.toPrecision(3)} req/s`, `${+(v.errorRatio * 100).toFixed(3)} % errors`, `${+(v.slowRatio * 100).toFixed(3)} % slower than the threshold`, `DB pool ${v.dbUsed * 100} %`];
  if (p.oneOffErrors) parts.push(`${p.oneOffErrors} failed request(s) in the first minute`);
  return parts.join(", ");
}

const alertOf = (m: SloModel, name: string) => m.alerts.find((a) => a.alert === name)!;

/** Generates every test file: name → content. */
export function generateRuleTests(cfg: StackConfig = stackConfig("dev")): Record<string, string> {
  const set: SloModels = buildSloModels(cfg);
  const [ruleFile] = sloRuleFiles(cfg, set);
  const ruleName = path.basename(ruleFile.path);
  const lat = set.slos.find((s) => s.kind === "latency")!;
  const avail = set.slos.find((s) => s.kind === "availability")!;
  const sat = set.slos.find((s) => s.kind === "saturation")!;
  const down = set.services[0].alert!;
  const files: Record<string, string> = { [ruleName]: ruleFile.content };
  const H = 360; // 6h warm-up: the longest window of the page tiers

  {
    // Availability: a 2-minute blip must not page; a full outage pages fast and the pages clear soon after it.
    const b = new Builder(cfg);
    const start = H + 120;
    b.silent(`severity="page"`, start, start, "nothing pages during warm-up and after a 2-minute 100 % error blip");
    b.notFiring("SloBurnRateFast", avail.name, start + 2, "100 % errors: not yet after 2 minutes (the 30m window is at 6.7 %)");
    b.firing(alertOf(avail, "SloBurnRateFast"), start + 5, "100 % errors: the fast page fires within 5 minutes");
    b.exact("SloBurnRateFast", start + 40, [{ a: alertOf(avail, "SloBurnRateFast"), value: "100%" }], "whole 30m window inside the outage: value 100 %; the latency SLO stays silent");
    b.firing(alertOf(avail, "SloBurnRateSlow"), start + 59, "the slow page (6h/20m) also fires during a one-hour outage");
    b.notFiring("SloBurnRateFast", avail.name, start + 60 + 10, "the fast page clears within 10 minutes of recovery");
    b.notFiring("SloBurnRateSlow", avail.name, start + 60 + 30, "every page clears within 30 minutes of recovery");
    b.silent(`slo=${JSON.stringify(lat.name)}`, start + 180, start + 180, "errors do not burn the latency SLO");
    b.silent(`alertname="SloServiceDown"`, start + 180, start + 180, "the app is up the whole time");
    files["availability.test.yml"] = render(
      ruleName,
      `Availability SLO ${avail.name}: 2-minute blip (no page), then a one-hour outage (fast page ≤ 5 min, clears ≤ 10 min after).`,
      [{ minutes: H }, { minutes: 2, errorRatio: 1 }, { minutes: 118 }, { minutes: 60, errorRatio: 1 }, { minutes: 120 }],
      cfg,
      b,
    );
  }
  {
    // Latency: every request takes 2 s (page ≤ 10 min), later p95 at 600 ms ≈ 20 % slow (alert ≤ 30 min).
    const b = new Builder(cfg);
    const s1 = H;
    const s2 = H + 30 + 120;
    b.notFiring("SloBurnRateFast", lat.name, s1 + 3, "all requests slow: not after 3 minutes yet (30m window at 10 %, threshold 15 %)");
    b.firing(alertOf(lat, "SloBurnRateFast"), s1 + 10, "all requests slow: the fast page fires within 10 minutes");
    b.exact("SloBurnRateFast", s1 + 30, [{ a: alertOf(lat, "SloBurnRateFast"), value: "100%" }], "whole 30m window slow: value 100 %");
    b.notFiring("SloBurnRateFast", lat.name, s1 + 30 + 10, "clears within 10 minutes of recovery");
    b.notFiring("SloBurnRateFast", lat.name, s2 + 15, "20 % slow: not after 15 minutes (30m window at 10 %)");
    b.firing(alertOf(lat, "SloBurnRateFast"), s2 + 30, "20 % slow (p95 ≈ 600 ms): alerted within 30 minutes");
    b.silent(`slo=${JSON.stringify(avail.name)}`, s2 + 60, s2 + 60, "slow requests do not burn the availability SLO");
    files["latency.test.yml"] = render(
      ruleName,
      `Latency SLO ${lat.name}: every request slower than the threshold for 30 min, then 20 % slow for an hour.`,
      [{ minutes: H }, { minutes: 30, slowRatio: 1 }, { minutes: 120 }, { minutes: 60, slowRatio: 0.2 }],
      cfg,
      b,
    );
  }
  {
    // Saturation, app down, missing metrics, low traffic.
    const b = new Builder(cfg);
    const W = 60;
    const satStart = W;
    b.notFiring("SloDbSaturationHigh", sat.name, satStart + 8, "pool at 95 %: not before its `for`");
    b.exact("SloDbSaturationHigh", satStart + 12, [{ a: alertOf(sat, "SloDbSaturationHigh"), value: "95%" }], "pool at 95 % for 30 minutes: alert within 15 minutes");
    const spike = W + 60;
    b.silent(`alertname="SloDbSaturationHigh"`, spike + 40, 40, "a one-minute spike to 95 % does not alert");
    const gone = W + 120;
    b.notFiring("SloServiceDown", undefined, gone - 1, "the app is up");
    b.exact("SloServiceDown", gone + 3, [{ a: down, value: "" }], "the app's series vanished: page within 3 minutes");
    for (const m of [lat, avail, sat]) b.firing(alertOf(m, "SloMetricsMissing"), gone + 20, `SLI metrics of ${m.name} gone for 15 minutes: ticket`);
    b.notFiring("SloServiceDown", undefined, gone + 30 + 2, "clears once the app is back");
    const low = gone + 30 + 60;
    b.silent(`severity="page"`, low + 240, 240 - 30, "low traffic (0.05 req/s with one failed request; then 3 requests per 30 min with one failed) never pages");
    const idle = low + 240;
    b.expr(`slo:sli_error:ratio_rate5m{slo=${JSON.stringify(avail.name)}}`, idle + 50, [], "no traffic at all: the ratio is absent, not NaN (no division by zero)");
    b.expr(
      `slo:sli_requests:rate5m{slo=${JSON.stringify(avail.name)}}`,
      idle + 50,
      [{ labels: `slo:sli_requests:rate5m${labelText(avail.labels)}`, value: 0 }],
      "no traffic at all: requests/s is 0",
    );
    b.silent(`alertname=~"SloBurnRate.*"`, idle + 60, 60, "no traffic pages nothing");
    const osc = idle + 60;
    b.firing(alertOf(sat, "SloDbSaturationHigh"), osc + 15, "a pool flapping between 85 % and 100 % every minute (average 92.5 %) alerts within 15 minutes");
    files["service.test.yml"] = render(
      ruleName,
      "DB pool saturation (30 min and a 1-minute spike), the app disappearing for 30 minutes, low traffic with single failures, no traffic, a flapping pool.",
      [
        { minutes: W },
        { minutes: 30, dbUsed: 0.95 },
        { minutes: 30 },
        { minutes: 1, dbUsed: 0.95 },
        { minutes: 59 },
        { minutes: 30, present: false },
        { minutes: 60 },
        { minutes: 120, rps: 0.05, errorRatio: 0, slowRatio: 0, oneOffErrors: 1 },
        { minutes: 120, rps: 1 / 600, errorRatio: 0, slowRatio: 0, oneOffErrors: 1 },
        { minutes: 60, rps: 0 },
        ...Array.from({ length: 20 }, (_, i) => ({ minutes: 1, rps: 0, dbUsed: i % 2 ? 1 : 0.85 })),
      ],
      cfg,
      b,
    );
  }
  {
    // Ticket tier: 3 days of healthy warm-up (its 3d window), then 2 % errors (2× the budget) for 34 hours.
    // (The rule evaluation interval of this file is 5m, so times are multiples of 5 minutes.)
    const b = new Builder(cfg);
    const D = 3 * 24 * 60;
    b.silent(`alertname=~".+"`, D, D, "3 days of healthy traffic: nothing fires");
    b.notFiring("SloBurnRateTicket", avail.name, D + 24 * 60, "2 % errors: the 3d window is still under 1 % after a day");
    b.firing(alertOf(avail, "SloBurnRateTicket"), D + 33 * 60, "2 % errors: a ticket within 2 days (the 3d window passes 1 % after ≈ 29 h)");
    b.silent(`severity="page"`, D + 34 * 60, D + 34 * 60, "2 % errors never page");
    files["ticket.test.yml"] = render(
      ruleName,
      `Ticket tier of ${avail.name}: 3 days healthy, then 2 % errors for 34 hours.`,
      [{ minutes: D }, { minutes: 34 * 60, errorRatio: 0.02 }],
      cfg,
      b,
      // Rules evaluated every 5 minutes (samples stay 1 per minute): five times faster over 4.4 days, and plenty for
      // a ticket that takes a day to fire.
      "5m",
    );
  }
  {
    // Request weighting: a busy healthy instance and a nearly idle one failing everything. Per instance the error
    // ratios are 0 % and 100 % (their average, 50 %, would page); weighted by requests it is 1 %.
    const b = new Builder(cfg);
    for (const m of [avail, lat]) {
      b.expr(
        `slo:sli_error:ratio_rate30m${m.seriesSelector} < bool 0.0101`,
        60,
        [{ labels: labelText(m.labels), value: 1 }],
        `${m.name}: the 30m ratio is request-weighted (≈ 0.99 %), not the 50 % average of the instances' ratios`,
      );
      b.notFiring("SloBurnRateFast", m.name, 60, `${m.name}: no page for one failing instance with 1 % of the traffic`);
    }
    files["weighting.test.yml"] = render(
      ruleName,
      "Request-weighted ratios: instance 10.0.1.5 serves 10 req/s without errors, instance 10.0.2.7 serves 0.1 req/s, all failing and slow.",
      [{ minutes: 60, rps: 10, errorRatio: 0, slowRatio: 0 }],
      cfg,
      b,
      "1m",
      [{ minutes: 60, rps: 0.1, errorRatio: 1, slowRatio: 1 }],
    );
  }
  {
    // Intermittent failure: the route fails hard for a minute in every ten, for four hours. One page per tier that
    // stays open while it recurs (not a firing/resolved pair per recurrence), and it clears once the failures stop.
    const b = new Builder(cfg);
    const start = H;
    const cycles = 24;
    const end = start + cycles * 10;
    const fast = alertOf(avail, "SloBurnRateFast");
    const rising = (a: AlertModel, from: number, to: number) =>
      `sum(count_over_time((ALERTS{alertname=${JSON.stringify(a.alert)}, alertstate="firing", slo=${JSON.stringify(a.labels.slo)}} ` +
      `unless ALERTS{alertname=${JSON.stringify(a.alert)}, alertstate="firing", slo=${JSON.stringify(a.labels.slo)}} offset 1m)[${to - from}m:1m]))`;
    b.notFiring("SloBurnRateFast", avail.name, start + 15, "two failing minutes in 30: the 30m window is below the fast threshold");
    b.firing(fast, start + 25, "the third failing minute in 30 pages");
    for (const k of [5, 11, 17, 23]) {
      b.firing(fast, start + k * 10 + 9, `cycle ${k + 1}: still open in the healthy minutes between two failures`);
    }
    b.expr(rising(fast, start, end + 60), end + 60, [{ labels: "{}", value: 1 }], "one fast page for the whole four hours: it fired once");
    b.notFiring("SloBurnRateFast", avail.name, end + 30, "the failures stopped (last one at the start of the last cycle): the page clears within 30 minutes");
    b.silent(`slo=${JSON.stringify(lat.name)}`, end + 60, end + 60, "errors do not burn the latency SLO");
    const phases: Phase[] = [{ minutes: H }];
    for (let c = 0; c < cycles; c++) phases.push({ minutes: 1, errorRatio: 1 }, { minutes: 9 });
    phases.push({ minutes: 60 });
    files["intermittent.test.yml"] = render(
      ruleName,
      `Availability SLO ${avail.name}: failing hard one minute in every ten for four hours: one page that stays open, then clears.`,
      phases,
      cfg,
      b,
    );
  }
  return files;
}

if (require.main === module) {
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  fs.mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, content] of Object.entries(generateRuleTests())) fs.writeFileSync(path.join(OUT_DIR, name), content);
  console.log(`wrote ${OUT_DIR}`);
}
