/**
 * `npm run bench:scale`: what the rendered Prometheus (the real binary here, 2.42) handles on this machine, with the
 * files rendered for a stack (tests/integration/sandbox.ts `sandboxRewrite`, as the alerting e2e test uses them):
 *
 *  1. SLO rule evaluation at 1×, 10× and 100× today's application series: today = one instance of the stack's
 *     SLO service exposing the metric contract (tests/integration/synthetic-app.ts); 10× and 100× = 10 and 100
 *     instances. Prints the active series and each SLO rule group's evaluation time (prometheus_rule_group_last_
 *     duration_seconds, the mean over the measuring window).
 *  2. Ingest: a filler target adds `--filler` gauge series (default 20000, 60000) scraped every second; prints
 *     samples/s appended, CPU used (process_cpu_seconds_total), resident memory, and from them samples/s per core
 *     and active series per GiB.
 *
 * Everything listens on 127.0.0.1 and is stopped at the end. Usage:
 *   npm run bench:scale [-- --stack dev] [--window 40] [--filler 20000,60000]
 * The machine is shared: the load average is printed next to the figures.
 */
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import type { AddressInfo } from "net";
import * as YAML from "yaml";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderBundleContext } from "../layout/host-file";
import { buildSloModels } from "../rules/slo-model";
import { applicationJob, sandboxRewrite, TEST_TIMING } from "../tests/integration/sandbox";
import { SyntheticApp } from "../tests/integration/synthetic-app";
import { freePort, sleep, startDaemon, Daemon } from "../tests/support/daemons";
import { stackConfig } from "../tests/support/stacks";
import { hasTool, tempDir } from "../tests/support/validators";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const STACK = arg("--stack") ?? "dev";
const WINDOW_S = Number(arg("--window") ?? 40);
const FILLERS = (arg("--filler") ?? "20000,60000").split(",").map(Number);
const APP_SCALES = [1, 10, 100];

/** One exposition for many instances: one HELP/TYPE per family, families kept together. */
function fleetExposition(apps: SyntheticApp[]): string {
  const byFamily = new Map<string, string[]>();
  const header = new Map<string, string[]>();
  for (const app of apps) {
    let family = "";
    for (const line of app.metrics().split("\n")) {
      if (!line) continue;
      const m = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (m) {
        family = m[2];
        if (!header.has(family)) header.set(family, []);
        if (header.get(family)!.length < 2) header.get(family)!.push(line);
        continue;
      }
      if (!byFamily.has(family)) byFamily.set(family, []);
      byFamily.get(family)!.push(line);
    }
  }
  return [...byFamily].map(([f, lines]) => [...(header.get(f) ?? []), ...lines].join("\n")).join("\n") + "\n";
}

interface Served {
  port: number;
  close(): Promise<void>;
}

async function serve(body: () => string): Promise<Served> {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(body());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function query(prom: Daemon, expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prom.base}/api/v1/query?${new URLSearchParams({ query: expr })}`, { signal: AbortSignal.timeout(10_000) });
  const doc = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return doc.data.result;
}
const scalar = async (prom: Daemon, expr: string) => Number((await query(prom, expr))[0]?.value[1] ?? NaN);

async function main(): Promise<void> {
  if (!hasTool("prometheus")) throw new Error("prometheus is not installed (apt-get install -y prometheus)");
  const cfg = stackConfig(STACK);
  const rendered = renderHostFiles(cfg, placeholderBundleContext(cfg.stack));
  const service = buildSloModels(cfg).services.find((s) => s.alert)?.service ?? cfg.slos[0]?.service;
  if (!service) throw new Error(`stack ${STACK} has no SLO service`);
  const latency = cfg.slos.find((s) => s.service === service && s.kind === "latency");
  const route = cfg.slos.find((s) => s.service === service && s.selector.route);
  const version = (await import("child_process")).execFileSync("prometheus", ["--version"], { encoding: "utf8" }).split("\n")[0];
  console.log(`bench:scale — stack ${STACK}, ${version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
  console.log(`  load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (shared machine: other jobs run too)`);
  console.log(`  scrape and evaluation interval ${TEST_TIMING.scrapeInterval} (TEST_TIMING), measuring window ${WINDOW_S}s per level`);

  const tmp = tempDir("bench-scale-");
  let apps: SyntheticApp[] = [];
  let filler = 0;
  const fleet = await serve(() => fleetExposition(apps));
  const fillerSrv = await serve(() => {
    const lines = ["# HELP bench_filler A filler gauge.", "# TYPE bench_filler gauge"];
    const v = Date.now() % 1000;
    for (let i = 0; i < filler; i++) lines.push(`bench_filler{shard="${i % 100}",series="${i}"} ${v + i}`);
    return lines.join("\n") + "\n";
  });
  let prom: Daemon | undefined;
  try {
    const ports = { prometheus: await freePort(), alertmanager: await freePort(), app: fleet.port };
    // No Alertmanager runs in this bench: the receivers' URLs are never called (port 9, discard, refuses).
    const unusedReceivers = Object.fromEntries(cfg.alerting.receivers.map((r) => [r.name, "http://127.0.0.1:9/unused"]));
    const sandbox = sandboxRewrite(cfg, rendered, { root: tmp.dir, ports, appJob: applicationJob(cfg, service), receiverUrls: unusedReceivers, timing: TEST_TIMING });
    for (const f of sandbox.files) {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      fs.writeFileSync(f.path, f.content, { mode: 0o600 });
    }
    // The bench's own addition (not a host change): the filler target, scraped like the others.
    const doc = structuredClone(sandbox.prometheus.doc);
    doc.scrape_configs.push({ job_name: "bench-filler", static_configs: [{ targets: [`127.0.0.1:${fillerSrv.port}`] }] });
    fs.writeFileSync(sandbox.prometheus.configPath, YAML.stringify(doc));
    prom = await startDaemon({ name: "prometheus", cmd: "prometheus", args: sandbox.prometheus.args, port: ports.prometheus, readyTimeoutMs: 60_000 });

    console.log(`\n1. SLO rule groups at 1×, 10×, 100× the application's series (mean evaluation time over the window; the 4 slowest groups)`);
    const groupShort = (g: string) => g.split(";").pop()!;
    for (const scale of APP_SCALES) {
      apps = Array.from({ length: scale }, (_, i) => new SyntheticApp({ service, instance: `synthetic-${i + 1}`, route: route?.selector.route ?? "/", method: route?.selector.method ?? "GET", buckets: latency?.buckets ?? [0.1, 0.4, 1] }));
      for (const a of apps) await a.start(0); // listeners only make them count requests; the fleet server serves them
      await sleep(WINDOW_S * 1000);
      const series = await scalar(prom, "prometheus_tsdb_head_series");
      const appSeries = await scalar(prom, `count({job="${service}"})`);
      const evals = await query(prom, `avg_over_time(prometheus_rule_group_last_duration_seconds[${WINDOW_S}s])`);
      const slo = evals.filter((r) => /slo/i.test(r.metric.rule_group));
      const total = slo.reduce((s, r) => s + Number(r.value[1]), 0);
      console.log(`  ${String(scale).padStart(3)}× : ${appSeries} application series, ${series} active series in all; SLO groups evaluate in ${(total * 1000).toFixed(1)} ms together (load ${os.loadavg()[0].toFixed(2)})`);
      for (const r of slo.sort((a, b) => Number(b.value[1]) - Number(a.value[1])).slice(0, 4)) {
        console.log(`         ${groupShort(r.metric.rule_group).padEnd(48)} ${(Number(r.value[1]) * 1000).toFixed(2)} ms`);
      }
      for (const a of apps) await a.stop();
    }
    apps = [];

    console.log(`\n2. Ingest: filler series scraped every ${TEST_TIMING.scrapeInterval}`);
    for (const n of FILLERS) {
      filler = n;
      await sleep(WINDOW_S * 1000);
      const w = `${Math.floor(WINDOW_S / 2)}s`;
      const samples = await scalar(prom, `rate(prometheus_tsdb_head_samples_appended_total[${w}])`);
      const cpu = await scalar(prom, `rate(process_cpu_seconds_total{job="prometheus"}[${w}])`);
      const rss = await scalar(prom, `process_resident_memory_bytes{job="prometheus"}`);
      const series = await scalar(prom, "prometheus_tsdb_head_series");
      console.log(
        `  ${String(n).padStart(6)} filler: ${series} active series, ${samples.toFixed(0)} samples/s, CPU ${(cpu * 100).toFixed(0)} % of a core, RSS ${(rss / 2 ** 20).toFixed(0)} MiB` +
          ` → ${(samples / cpu).toFixed(0)} samples/s per core, ${(series / (rss / 2 ** 30)).toFixed(0)} active series per GiB of RSS (load ${os.loadavg()[0].toFixed(2)})`,
      );
    }
  } finally {
    for (const a of apps) await a.stop();
    await prom?.stop("SIGTERM", 10_000);
    await fleet.close();
    await fillerSrv.close();
    tmp.cleanup();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
