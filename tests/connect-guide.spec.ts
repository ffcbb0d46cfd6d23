/**
 * docs/connect-an-application.md, exercised: the Node environment it prescribes is what the installed SDK reads,
 * its start command is the example's, and — with the real example app and real PostgreSQL — `npm run local` (the
 * real Prometheus and Alertmanager with the dev stack's rendered rules) answers, the guide's "check from the
 * monitoring host" block finds every SLO series, and Ctrl-C (SIGINT) stops both daemons and removes the temp dir.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stackConfig } from "./support/stacks";
import { freePort, sleep, waitFor } from "./support/daemons";
import { requireTool } from "./support/validators";
import { serviceUnderTest } from "./integration/alerting-sandbox";
import { AppointmentsApp, buildExample, EXAMPLE_DIR, requireExampleApp } from "./integration/appointments-app";
import { PostgresCluster, postgresBinDir } from "./integration/postgres";

const ROOT = path.join(__dirname, "..");
const GUIDE = fs.readFileSync(path.join(ROOT, "docs", "connect-an-application.md"), "utf8");

/** Fenced code blocks of the guide: info string and body. */
function blocks(text: string): { info: string; body: string; after: string }[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ info: m[1], body: m[2], after: text.slice(0, m.index) }));
}

const EXERCISED = "<!-- exercised by tests/connect-guide.spec.ts -->";

describe("docs/connect-an-application.md, exercised", function () {
  this.timeout(60_000);

  it("every OTEL_* variable the Node section sets is one the installed OpenTelemetry JS SDK reads", function () {
    const sdkDir = path.join(EXAMPLE_DIR, "node_modules", "@opentelemetry");
    if (!fs.existsSync(sdkDir)) {
      if (process.env.CI) throw new Error("examples/appointments-api/node_modules missing: npm ci --prefix examples/appointments-api");
      this.skip();
    }
    const node = GUIDE.slice(GUIDE.indexOf("## NestJS / Node.js"), GUIDE.indexOf("## Java"));
    const vars = new Set<string>();
    for (const b of blocks(node).filter((x) => x.info === "sh")) for (const m of b.body.matchAll(/\b(OTEL_[A-Z_]+)=/g)) vars.add(m[1]);
    for (const m of node.matchAll(/`(OTEL_[A-Z_]+)(=[^`]*)?`/g)) if (m[1] !== "OTEL_APP_METRIC_EXPIRATION") vars.add(m[1]);
    assert.ok(vars.size >= 8, [...vars].join(" "));
    // All JS sources of the installed SDK packages, read once.
    const sources: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".js") && p.includes(`${path.sep}build${path.sep}src${path.sep}`)) sources.push(fs.readFileSync(p, "utf8"));
      }
    };
    walk(sdkDir);
    const all = sources.join("\n");
    for (const v of vars) assert.ok(all.includes(`'${v}'`) || all.includes(`"${v}"`) || all.includes(`${v}_`) || all.includes(`.${v}`), `${v} is not read by any installed @opentelemetry package`);
  });

  it("the start command is the example's `npm start` and what the e2e test runs", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(EXAMPLE_DIR, "package.json"), "utf8")) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts.start, "node --require ./dist/telemetry.js dist/main.js");
    assert.ok(GUIDE.includes(pkg.scripts.start));
    assert.ok(fs.readFileSync(path.join(__dirname, "integration", "appointments-app.ts"), "utf8").includes('args: ["--require", "./dist/telemetry.js", "dist/main.js"]'));
  });

  describe("npm run local with the example app, and the monitoring-host check", function () {
    let db: PostgresCluster | undefined;
    let app: AppointmentsApp | undefined;
    let local: ChildProcess | undefined;
    let out = "";
    const ports = { prometheus: 0, alertmanager: 0 };

    before(async function () {
      requireTool(this, "prometheus");
      requireTool(this, "prometheus-alertmanager");
      requireTool(this, "promtool");
      requireExampleApp(this, !!postgresBinDir());
      this.timeout(180_000);
      buildExample();
      db = await PostgresCluster.start();
      const service = serviceUnderTest(stackConfig("dev")).service;
      // Traces go nowhere here (a closed loopback port): the exporter's failures are silent.
      app = await AppointmentsApp.create({ service, db, poolMax: 5, tracesUrl: `http://127.0.0.1:${await freePort()}/v1/traces` });
      await app.start();
      ports.prometheus = await freePort();
      ports.alertmanager = await freePort();
    });

    after(async function () {
      this.timeout(60_000);
      if (local && local.exitCode === null) local.kill("SIGKILL");
      await app?.stop();
      await db?.stop();
    });

    it("starts Prometheus and Alertmanager on 127.0.0.1 with the stack's rules, scraping the app; prints where to look", async function () {
      this.timeout(90_000);
      const tsx = path.join(ROOT, "node_modules", ".bin", "tsx");
      local = spawn(tsx, [path.join(ROOT, "scripts", "local.ts"), "dev", "--app", `127.0.0.1:${app!.port}`, "--fast", "--prometheus-port", String(ports.prometheus), "--alertmanager-port", String(ports.alertmanager)], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      local.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      local.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      await waitFor("npm run local to print where to look", 60_000, () => (out.includes("Ctrl-C stops everything") ? true : undefined), { detail: () => out });
      assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${ports.prometheus}/alerts`));
      assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${ports.alertmanager}`));
      for (const port of [ports.prometheus, ports.alertmanager]) {
        const res = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(5_000) });
        assert.equal(res.status, 200);
      }
    });

    it("the guide's check block finds the app's series and SLO records, and no SloMetricsMissing", async function () {
      this.timeout(90_000);
      const load = app!.traffic(4, 250);
      try {
        const prom = `http://127.0.0.1:${ports.prometheus}`;
        const svc = serviceUnderTest(stackConfig("dev")).service;
        await waitFor("the SLO records", 60_000, async () => {
          const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(`slo:sli_error:ratio_rate5m{service="${svc}"}`)}`);
          const doc = (await r.json()) as { data: { result: unknown[] } };
          return doc.data.result.length >= 2 ? true : undefined;
        });
        const block = blocks(GUIDE).find((b) => b.after.trimEnd().endsWith(EXERCISED));
        assert.ok(block, `no code block after ${EXERCISED}`);
        const r = spawnSync("bash", ["-c", block.body], { encoding: "utf8", timeout: 60_000, env: { ...process.env, PROM: prom, SERVICE: svc } });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        const sections = r.stdout.split(/^== /m).slice(1);
        assert.equal(sections.length, 5, r.stdout);
        for (const s of sections) {
          const [query, ...lines] = s.trimEnd().split("\n");
          assert.ok(lines.some((l) => / => /.test(l)), `no series for ${query}:\n${r.stdout}`);
        }
        // The last command (SloMetricsMissing) printed nothing after the last section's series.
        assert.ok(!/SloMetricsMissing/.test(r.stdout.split("\n").filter((l) => / => /.test(l)).join("\n")), r.stdout);
      } finally {
        await load.stop();
      }
    });

    it("Ctrl-C (SIGINT) stops both daemons and removes the temp dir", async function () {
      this.timeout(60_000);
      const pids = /Prometheus (\d+) and Alertmanager (\d+)/.exec(out);
      const tmp = /temp dir (\S+)/.exec(out)?.[1];
      assert.ok(pids && tmp, out);
      assert.ok(fs.existsSync(tmp));
      const exited = new Promise<number | null>((resolve) => local!.once("exit", (code) => resolve(code)));
      local!.kill("SIGINT");
      const code = await Promise.race([exited, sleep(45_000).then(() => "timeout" as const)]);
      assert.equal(code, 0, out);
      assert.match(out, /stopped; temp dir removed/);
      for (const pid of [pids[1], pids[2]]) assert.ok(!fs.existsSync(`/proc/${pid}`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, "utf8")), `process ${pid} still running`);
      assert.ok(!fs.existsSync(tmp), `${tmp} left behind`);
      for (const port of [ports.prometheus, ports.alertmanager]) {
        await assert.rejects(fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(2_000) }));
      }
    });
  });
});
