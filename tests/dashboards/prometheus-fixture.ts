/**
 * A real Prometheus 2.42 on 127.0.0.1 holding synthetic data and the SLO recording rules evaluated over it:
 *
 * 1. the raw series are backfilled with `promtool tsdb create-blocks-from openmetrics`;
 * 2. Prometheus starts on that TSDB (no scrape jobs, no rules: nothing changes under the test);
 * 3. the stack's SLO recording rules are backfilled with `promtool tsdb create-blocks-from rules`, which evaluates
 *    them against the running server. A rule that reads another recorded series needs that series' blocks first,
 *    so the rules go in dependency levels, Prometheus restarting after each level to load the new blocks.
 */
import { spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as YAML from "yaml";
import type { RecordModel } from "../../rules/slo-model";
import { run } from "../support/validators";

export type Doc = Record<string, any>;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Groups recording rules so that each level only reads raw series and the records of earlier levels. */
export function dependencyLevels(records: RecordModel[]): RecordModel[][] {
  const names = new Set(records.map((r) => r.record));
  const level = new Map<RecordModel, number>();
  const reads = (r: RecordModel) => [...names].filter((n) => n !== r.record && new RegExp(`(^|[^a-zA-Z0-9_:])${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^a-zA-Z0-9_:]|$)`).test(r.expr));
  const levelOf = (r: RecordModel, seen: Set<RecordModel> = new Set()): number => {
    if (level.has(r)) return level.get(r)!;
    if (seen.has(r)) throw new Error(`recording rules depend on each other in a cycle at ${r.record}`);
    seen.add(r);
    const deps = reads(r).flatMap((n) => records.filter((x) => x.record === n));
    const l = deps.length ? 1 + Math.max(...deps.map((d) => levelOf(d, seen))) : 0;
    level.set(r, l);
    return l;
  };
  records.forEach((r) => levelOf(r));
  const out: RecordModel[][] = [];
  for (const [r, l] of level) (out[l] ??= []).push(r);
  return out.filter(Boolean);
}

export class PrometheusFixture {
  private proc?: ChildProcess;
  private output = "";
  port = 0;

  constructor(
    readonly dir: string,
    readonly dataDir = path.join(dir, "data"),
  ) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Backfills OpenMetrics text into the TSDB (before start). */
  backfillOpenMetrics(text: string): void {
    const file = path.join(this.dir, "synthetic.om.txt");
    fs.writeFileSync(file, text);
    fs.mkdirSync(this.dataDir, { recursive: true });
    const r = run("promtool", ["tsdb", "create-blocks-from", "openmetrics", file, this.dataDir], { timeoutMs: 120_000 });
    if (r.status !== 0) throw new Error(`promtool create-blocks-from openmetrics failed:\n${r.stdout}\n${r.stderr}`.slice(0, 4000));
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const config = path.join(this.dir, "prometheus.yml");
    fs.writeFileSync(config, "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n");
    this.output = "";
    const proc = spawn(
      "prometheus",
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${this.dataDir}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        "--storage.tsdb.retention.time=30d",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    proc.stdout!.on("data", (d) => (this.output += d));
    proc.stderr!.on("data", (d) => (this.output += d));
    this.proc = proc;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}):\n${this.output.slice(-3000)}`);
      try {
        if ((await fetch(`${this.base}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`prometheus not ready within 30 s:\n${this.output.slice(-3000)}`);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill("SIGTERM");
    });
  }

  /**
   * Evaluates `records` over [startSec, endSec] every `intervalSec` with promtool's rule backfiller, level by level,
   * loading each level's blocks (restart) before the next.
   */
  async backfillRules(records: RecordModel[], startSec: number, endSec: number, intervalSec = 60): Promise<number> {
    const levels = dependencyLevels(records);
    for (const [i, recs] of levels.entries()) {
      const rulesFile = path.join(this.dir, `rules-level-${i}.yml`);
      fs.writeFileSync(rulesFile, YAML.stringify({ groups: [{ name: `level-${i}`, rules: recs.map((r) => ({ record: r.record, expr: r.expr, labels: r.labels })) }] }));
      const out = path.join(this.dir, `rules-blocks-${i}`);
      fs.rmSync(out, { recursive: true, force: true });
      const r = run(
        "promtool",
        [
          "tsdb",
          "create-blocks-from",
          "rules",
          `--start=${startSec}`,
          `--end=${endSec}`,
          `--url=${this.base}`,
          `--output-dir=${out}`,
          `--eval-interval=${intervalSec}s`,
          rulesFile,
        ],
        { timeoutMs: 120_000 },
      );
      if (r.status !== 0) throw new Error(`promtool create-blocks-from rules (level ${i}) failed:\n${r.stdout}\n${r.stderr}`.slice(0, 4000));
      // Blocks are ULID-named directories; move them into the TSDB and restart to load them.
      for (const entry of fs.readdirSync(out)) {
        if (fs.statSync(path.join(out, entry)).isDirectory()) fs.renameSync(path.join(out, entry), path.join(this.dataDir, entry));
      }
      await this.stop();
      await this.start();
    }
    return levels.length;
  }

  async api(pathAndQuery: string): Promise<Doc> {
    const res = await fetch(`${this.base}${pathAndQuery}`);
    const body = (await res.json()) as Doc;
    if (body.status !== "success") throw new Error(`${pathAndQuery}: ${res.status} ${JSON.stringify(body).slice(0, 500)}`);
    return body.data as Doc;
  }

  queryRange(expr: string, startSec: number, endSec: number, stepSec: number): Promise<Doc> {
    const p = new URLSearchParams({ query: expr, start: String(startSec), end: String(endSec), step: String(stepSec) });
    return this.api(`/api/v1/query_range?${p}`);
  }

  query(expr: string, timeSec: number): Promise<Doc> {
    const p = new URLSearchParams({ query: expr, time: String(timeSec) });
    return this.api(`/api/v1/query?${p}`);
  }

  labelValues(label: string, match: string, startSec: number, endSec: number): Promise<string[]> {
    const p = new URLSearchParams({ "match[]": match, start: String(startSec), end: String(endSec) });
    return this.api(`/api/v1/label/${encodeURIComponent(label)}/values?${p}`) as unknown as Promise<string[]>;
  }
}
