/**
 * `npm run bench:alerts`: how fast and how quietly the SLO alerts of the dev stack react, measured with the real
 * Prometheus rule engine (`promtool test rules`), next to two reference rule sets evaluated on the same series:
 *  - "Workbook": the SRE Workbook's multiwindow, multi-burn-rate alerts (page: 1h/5m at 14.4× OR 6h/30m at 6×;
 *    ticket: 1d/2h at 3× OR 3d/6h at 1×), each tier set as one OR'd alert as in the Workbook;
 *  - "naive": error ratio > 5 % for 5m, p95 > 500 ms for 5m.
 * For each scenario it prints when each alert first fired and cleared (minutes after the incident started,
 * 1-minute resolution), the physical floor of each of our alerts, and whether the issue's target is met.
 *
 * Usage: npm run bench:alerts [-- --only <scenario-id,...>] [--jobs N]
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { stackConfig } from "../tests/support/stacks";
import { sloRuleFiles } from "../rules/slo-rules";
import { buildSloModels, SloModels } from "../rules/slo-model";
import { BURN_TIERS } from "../config/slo-alerts";
import { RECORDS } from "../rules/slo-conventions";
import { q } from "../rules/promql";
import { runTimeline, AlertTimeline } from "./bench/alert-sim";
import { benchScenarios, BenchScenario } from "./bench/alert-scenarios";
import { ALERTING_TIMING } from "../layout/host-layout";
import { parseDuration } from "../config/duration";

const sec = (d: string) => parseDuration(d)!.seconds;

/**
 * The reference rule sets, generated from the same SLO model (no hand-written per-SLO PromQL). They reuse our
 * recorded request/error rates where the window exists (5m, 30m, 6h, 3d) and record 1h, 2h and 1d themselves,
 * so both rule sets see identical SLIs and the benchmark stays fast.
 */
function referenceRules(set: SloModels): string {
  const groups: unknown[] = [];
  for (const m of set.slos) {
    if (!m.ratio) continue;
    const r = m.ratio;
    const b = r.errorBudget;
    const sel = m.seriesSelector;
    const extra = ["1h", "2h", "1d"];
    const rules: unknown[] = [];
    for (const w of extra) {
      rules.push({ record: `bench:sli_requests:rate${w}`, expr: r.requestsExpr(w), labels: m.labels });
      rules.push({ record: `bench:sli_errors:rate${w}`, expr: r.errorsExpr(w), labels: m.labels });
    }
    const ratio = (w: string) =>
      extra.includes(w) ? `(bench:sli_errors:rate${w}${sel} / bench:sli_requests:rate${w}${sel})` : `${RECORDS.errorRatio(w)}${sel}`;
    const pair = (long: string, short: string, factor: number) =>
      `(${ratio(long)} > ${+(factor * b).toPrecision(6)} and ${ratio(short)} > ${+(factor * b).toPrecision(6)})`;
    const labels = { slo: m.name, service: m.service };
    rules.push(
      { alert: "WorkbookPage", expr: `${pair("1h", "5m", 14.4)} or ${pair("6h", "30m", 6)}`, labels: { ...labels, severity: "page" } },
      { alert: "WorkbookTicket", expr: `${pair("1d", "2h", 3)} or ${pair("3d", "6h", 1)}`, labels: { ...labels, severity: "ticket" } },
    );
    if (m.kind === "availability") {
      rules.push({ alert: "NaiveErrorRate", expr: `${ratio("5m")} > 0.05`, for: "5m", labels: { ...labels, severity: "page" } });
    } else if (r.latency) {
      const s = m.spec.selector;
      const matchers = [`job=${q(m.service)}`, s.route ? `http_route=${q(s.route)}` : "", s.method ? `http_request_method=${q(s.method)}` : ""]
        .filter(Boolean)
        .join(", ");
      rules.push({
        alert: "NaiveLatencyP95",
        expr: `histogram_quantile(0.95, sum by (le) (rate(${r.latency.histogram}_bucket{${matchers}}[5m]))) > 0.5`,
        for: "5m",
        labels: { ...labels, severity: "page" },
      });
    }
    groups.push({ name: `reference:${m.name}`, rules });
  }
  return YAML.stringify({ groups }, { lineWidth: 0 });
}

/** scrape + evaluation + for + group_wait, in seconds: the earliest a notification can leave Alertmanager. */
function floorSeconds(forText: string): number {
  return sec(ALERTING_TIMING.scrapeInterval) + sec(ALERTING_TIMING.evaluationInterval) + (forText === "0s" ? 0 : sec(forText)) + sec(ALERTING_TIMING.groupWait);
}

function cell(ts: AlertTimeline[], pred: (t: AlertTimeline) => boolean, short: (t: AlertTimeline) => string): string {
  const hit = ts.filter((t) => pred(t) && t.firstFire !== undefined);
  if (!hit.length) return "—";
  return hit
    .map((t) => {
      const clear = t.lastClear !== undefined ? ` → cleared +${t.lastClear}m` : " (still firing)";
      const flaps = t.episodes > 1 ? ` ×${t.episodes}` : "";
      return `${short(t)} ${t.firstFire! >= 0 ? "+" : ""}${t.firstFire}m${clear}${flaps}`;
    })
    .join("; ");
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : undefined;
  const jobs = args.includes("--jobs") ? Number(args[args.indexOf("--jobs") + 1]) : Math.max(1, os.cpus().length);

  const cfg = stackConfig("dev");
  const set = buildSloModels(cfg);
  const files = sloRuleFiles(cfg, set);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-alerts-"));
  const ruleFiles = files.map((f) => {
    const p = path.join(dir, path.basename(f.path));
    fs.writeFileSync(p, f.content);
    return p;
  });
  const refFile = path.join(dir, "reference.yml");
  fs.writeFileSync(refFile, referenceRules(set));

  const byKind = (k: string) => cfg.slos.find((s) => s.kind === k)?.name ?? "";
  const scenarios = benchScenarios({ latency: byKind("latency"), availability: byKind("availability"), saturation: byKind("saturation") }).filter(
    (s) => !only || only.includes(s.id),
  );
  const specs = cfg.slos;

  console.log(`SLO alert benchmark — dev stack rules (${ruleFiles.map((f) => path.basename(f)).join(", ")}), promtool test rules, 1-minute steps, ${jobs} parallel job(s)`);
  console.log(`Timing: scrape ${ALERTING_TIMING.scrapeInterval}, evaluation ${ALERTING_TIMING.evaluationInterval}, group_wait ${ALERTING_TIMING.groupWait}.`);
  console.log("Physical floor per alert (scrape + evaluation + for + group_wait):");
  for (const t of BURN_TIERS) console.log(`  ${t.alert.padEnd(20)} for ${t.for.padEnd(4)} → ${floorSeconds(t.for)}s`);
  // The saturation alert averages over `for` (then waits 1m): a jump to a high level crosses the threshold after
  // most of that window; the window is the floor's dominant term.
  for (const m of set.slos.filter((x) => x.saturation)) console.log(`  SloDbSaturationHigh  avg ${m.saturation!.for.padEnd(4)} → ~${floorSeconds(m.saturation!.for)}s`);
  console.log(`  SloServiceDown       for 1m   → ${floorSeconds("1m")}s`);
  console.log("Times below are when the rule engine marks the alert firing, in minutes after the incident started; add scrape offset + group_wait (~45 s) for the notification.\n");

  const started = Date.now();
  const results: { s: BenchScenario; timelines: AlertTimeline[]; seconds: number }[] = [];
  const queue = [...scenarios];
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (queue.length) {
        const s = queue.shift()!;
        const r = await runTimeline(s, specs, [...ruleFiles, refFile], dir);
        results.push({ s, ...r });
        process.stderr.write(`  evaluated ${s.id} in ${r.seconds.toFixed(1)}s\n`);
      }
    }),
  );
  results.sort((a, b) => scenarios.indexOf(a.s) - scenarios.indexOf(b.s));

  const rows: string[][] = [["scenario", "target", "ours (Slo*)", "SRE Workbook", "naive", "result"]];
  const abbrev = (t: AlertTimeline) =>
    `${t.alertname.replace(/^Slo/, "").replace(/^BurnRate/, "")}[${t.labels.severity},${t.slo.includes(",") ? t.labels.service : t.slo.replace(/^appointments-/, "")}]`;
  let failures = 0;
  for (const { s, timelines } of results) {
    const verdict = s.target.check(timelines);
    if (!verdict.ok) failures++;
    rows.push([
      s.title,
      s.target.text,
      cell(timelines, (t) => t.alertname.startsWith("Slo"), abbrev),
      cell(timelines, (t) => t.alertname.startsWith("Workbook"), (t) => `${t.alertname.replace("Workbook", "")}[${t.slo.replace(/^appointments-/, "")}]`),
      cell(timelines, (t) => t.alertname.startsWith("Naive"), (t) => t.alertname.replace("Naive", "")),
      `${verdict.ok ? "PASS" : "FAIL"}: ${verdict.note}`,
    ]);
  }
  // Markdown table, so it can be pasted into docs/slos.md as is.
  console.log(rows.map((r, i) => `| ${r.join(" | ")} |${i === 0 ? `\n|${r.map(() => "---").join("|")}|` : ""}`).join("\n"));
  console.log(`\n${results.length - failures}/${results.length} targets met; wall time ${((Date.now() - started) / 1000).toFixed(0)}s on ${os.cpus().length} CPU(s).`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (failures) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
