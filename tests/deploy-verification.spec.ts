/**
 * The deploy-verification scripts, run for real: the host's health check against HTTP servers on 127.0.0.1 (with
 * fake systemctl/journalctl/cloud-init), and the laptop script against a fake AWS CLI and ssh.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { hostScript } from "../hostfiles/templates";
import { HealthCheck, healthChecks } from "../hostfiles/health-checks";
import { VERIFY_SCRIPT } from "../components/deploy-verification";
import { requireTool, run, tempDir } from "./support/validators";

interface Result {
  status: number;
  out: string;
}

/** Runs a command without blocking the event loop (the test's HTTP servers must keep answering). */
function runAsync(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, out });
    });
  });
}

function fakeBin(dir: string, name: string, body: string): void {
  fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

describe("host health check (monitoring-health)", () => {
  const t = tempDir("health-");
  const servers: http.Server[] = [];
  const status = new Map<string, number>();
  let loadedRuleFiles: string[] = [];
  let env: Record<string, string>;
  let script: string;

  const listen = (handler: http.RequestListener) =>
    new Promise<number>((resolve) => {
      const s = http.createServer(handler);
      servers.push(s);
      s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port));
    });

  before(async () => {
    const bin = path.join(t.dir, "bin");
    const conf = path.join(t.dir, "etc");
    const rules = path.join(t.dir, "rules");
    const state = path.join(t.dir, "state");
    for (const d of [bin, conf, rules, state]) fs.mkdirSync(d, { recursive: true });
    fakeBin(bin, "systemctl", 'echo "systemctl $*" >>"$FAKE_LOG"; [ "$1" = status ] && echo "fake status of $2"; exit 0');
    fakeBin(bin, "journalctl", 'echo "fake journal of $2"');
    fakeBin(bin, "cloud-init", 'echo "cloud-init $*" >>"$FAKE_LOG"; exit 0');
    fs.writeFileSync(path.join(rules, "meta.yml"), "groups: []\n");
    fs.writeFileSync(path.join(rules, "slo.yml"), "groups: []\n");
    // One loopback server per service, answering its real health path with the status the test sets.
    const checks: HealthCheck[] = [];
    for (const { name, unit, url } of healthChecks()) {
      status.set(name, 200);
      const port = await listen((req, res) => {
        res.statusCode = req.url === new URL(url).pathname ? status.get(name)! : 404;
        res.end();
      });
      checks.push({ name, unit, url: `http://127.0.0.1:${port}${new URL(url).pathname}` });
    }
    const promPort = await listen((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: "success", data: { groups: loadedRuleFiles.map((f) => ({ name: path.basename(f), file: f, rules: [{ name: "r", health: "ok" }] })) } }));
    });
    // The applied bundle as the apply step leaves it; only its health checks matter here (pointed at the servers).
    fs.writeFileSync(path.join(conf, "bundle.json"), JSON.stringify({ healthChecks: checks }));
    script = path.join(t.dir, "monitoring-health");
    fs.writeFileSync(script, hostScript("monitoring-health.sh"), { mode: 0o755 });
    env = {
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_LOG: path.join(t.dir, "calls.log"),
      MONHOST_CONFIG_ROOT: conf,
      MONHOST_STATE_DIR: state,
      MONHOST_RULES_DIR: rules,
      MONHOST_PROMETHEUS_URL: `http://127.0.0.1:${promPort}`,
    };
  });

  beforeEach(() => {
    for (const k of status.keys()) status.set(k, 200);
    loadedRuleFiles = [path.join(env.MONHOST_RULES_DIR, "meta.yml"), path.join(env.MONHOST_RULES_DIR, "slo.yml")];
  });

  after(() => {
    servers.forEach((s) => s.close());
    t.cleanup();
  });

  it("passes shellcheck", function () {
    requireTool(this, "shellcheck");
    const r = run("shellcheck", [script]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("reports a healthy host and every check it made", async () => {
    const r = await runAsync(script, ["--timeout", "20"], env);
    assert.equal(r.status, 0, r.out);
    for (const { name } of healthChecks()) assert.match(r.out, new RegExp(`ok: ${name} `));
    assert.match(r.out, /ok: prometheus rules: 2 rule files, 2 rules loaded/);
    assert.match(r.out, /monitoring host is healthy/);
  });

  it("names the unhealthy service and prints its status and journal", async () => {
    status.set("loki", 503);
    const r = await runAsync(script, ["--timeout", "3"], env);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /FAILED: loki is not healthy: http:\/\/127\.0\.0\.1:\d+\/ready answered 503/);
    assert.match(r.out, /fake status of loki\.service/);
    assert.match(r.out, /fake journal of loki\.service/);
    assert.match(r.out, /ok: tempo /, "the other services are still checked");
  });

  it("fails when Prometheus has not loaded a rule file", async () => {
    loadedRuleFiles = loadedRuleFiles.slice(0, 1);
    const r = await runAsync(script, ["--timeout", "5"], env);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /FAILED: prometheus rules: rule file not loaded: .*slo\.yml/);
  });

  it("waits for the expected config bundle, starting a sync at once", async () => {
    fs.writeFileSync(path.join(env.MONHOST_STATE_DIR, "applied-etag"), '"old"\n');
    const stale = await runAsync(script, ["--expect-etag", '"new"', "--timeout", "2"], env);
    assert.equal(stale.status, 1, stale.out);
    assert.match(stale.out, /config bundle new was not applied in 2s \(applied: old\)/);
    assert.match(fs.readFileSync(env.FAKE_LOG, "utf8"), /systemctl start --no-block monitoring-sync\.service/);
    fs.writeFileSync(path.join(env.MONHOST_STATE_DIR, "applied-etag"), '"new"\n');
    const fresh = await runAsync(script, ["--expect-etag", "new", "--timeout", "20"], env);
    assert.equal(fresh.status, 0, fresh.out);
    assert.match(fresh.out, /ok: config bundle new applied/);
  });

  it("fails at once, naming the unit and its journal, when the apply step could not restart a unit", async () => {
    const marker = path.join(env.MONHOST_STATE_DIR, "apply-failed");
    fs.writeFileSync(path.join(env.MONHOST_STATE_DIR, "applied-etag"), '"old"\n');
    // A failure recorded before this check began is from an earlier attempt: the check waits for the retry.
    fs.writeFileSync(marker, '"new"\ngrafana.service\n');
    fs.utimesSync(marker, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const waited = await runAsync(script, ["--expect-etag", "new", "--timeout", "2"], env);
    assert.match(waited.out, /config bundle new was not applied in 2s/);

    // The retry the check started fails again: reported long before the timeout.
    const started = Date.now();
    const check = runAsync(script, ["--expect-etag", "new", "--timeout", "60"], env);
    setTimeout(() => fs.writeFileSync(marker, '"new"\ngrafana.service\n'), 1500);
    const r = await check;
    fs.rmSync(marker);
    assert.equal(r.status, 1, r.out);
    assert.ok(Date.now() - started < 30_000, "must not wait for the timeout");
    assert.match(r.out, /FAILED: config bundle new was not applied: grafana\.service did not reload\/restart and stay up/);
    assert.match(r.out, /fake status of grafana\.service/);
    assert.match(r.out, /fake journal of grafana\.service/);
    assert.match(r.out, /fake journal of monitoring-apply\.service/);
  });
});

describe("laptop deploy verification (verify-deploy.sh)", () => {
  const t = tempDir("verify-");
  const bin = path.join(t.dir, "bin");
  const log = path.join(t.dir, "calls.log");
  before(() => {
    fs.mkdirSync(bin);
    // A fake AWS CLI: records its arguments; the invocation status comes from FAKE_STATUS.
    fakeBin(
      bin,
      "aws",
      `printf '%s\\n' "$*" >>"${log}"
case "$*" in
  *send-command*) echo cmd-123 ;;
  *"--query Status"*) echo "$FAKE_STATUS" ;;
  *StandardOutputContent*) echo "REPORT FROM HOST: $FAKE_REPORT" ;;
esac`,
    );
    // A fake ssh: records the key file's mode and content while it exists.
    fakeBin(bin, "ssh", `key=$2; printf 'mode=%s key=%s args=%s\\n' "$(stat -c %a "$key")" "$(cat "$key")" "$*" >>"${log}"; echo "REPORT FROM HOST"; exit "\${FAKE_SSH_STATUS:-0}"`);
  });
  beforeEach(() => fs.rmSync(log, { force: true }));
  after(() => t.cleanup());

  const base = { PATH: `${bin}:${process.env.PATH}`, INSTANCE_ID: "i-0abc", EXPECT_ETAG: '"etag-1"', TIMEOUT: "30", HEALTH_SCRIPT: "/usr/local/lib/monitoring-host/monitoring-health", REGION: "eu-west-1" };

  it("passes shellcheck", function () {
    requireTool(this, "shellcheck");
    const r = run("shellcheck", [VERIFY_SCRIPT]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("ssm: runs the health check through Run Command and succeeds with the host's report", async () => {
    const r = await runAsync("bash", [VERIFY_SCRIPT], { ...base, MODE: "ssm", FAKE_STATUS: "Success", FAKE_REPORT: "all ok" });
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /REPORT FROM HOST: all ok/);
    const calls = fs.readFileSync(log, "utf8");
    assert.match(calls, /ssm send-command --region eu-west-1 --instance-ids i-0abc --document-name AWS-RunShellScript/);
    assert.match(calls, /sudo \/usr\/local\/lib\/monitoring-host\/monitoring-health --expect-etag 'etag-1' --timeout 30/);
  });

  it("ssm: fails the deploy with the host's report when the check fails", async () => {
    const r = await runAsync("bash", [VERIFY_SCRIPT], { ...base, MODE: "ssm", FAKE_STATUS: "Failed", FAKE_REPORT: "FAILED: loki is not healthy" });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /REPORT FROM HOST: FAILED: loki is not healthy/);
    assert.match(r.out, /ended with status Failed \(command cmd-123\)/);
  });

  it("ssh: uses the automation key from a private temporary file, then removes it", async () => {
    const r = await runAsync("bash", [VERIFY_SCRIPT], { ...base, MODE: "ssh", SSH_USER: "ec2-user", SSH_HOST: "10.0.1.20", SSH_PRIVATE_KEY: "KEY-MATERIAL" });
    assert.equal(r.status, 0, r.out);
    const calls = fs.readFileSync(log, "utf8");
    assert.match(calls, /mode=600 key=KEY-MATERIAL/);
    assert.match(calls, /ec2-user@10\.0\.1\.20 sudo \/usr\/local\/lib\/monitoring-host\/monitoring-health --expect-etag 'etag-1'/);
    const keyFile = /-i (\S+)/.exec(calls)![1];
    assert.equal(fs.existsSync(keyFile), false, "the key file is removed");
    assert.ok(!r.out.includes("KEY-MATERIAL"), "the key is never printed");
  });

  it("ssh: a failed check fails the deploy", async () => {
    const r = await runAsync("bash", [VERIFY_SCRIPT], { ...base, MODE: "ssh", SSH_USER: "ec2-user", SSH_HOST: "10.0.1.20", SSH_PRIVATE_KEY: "K", FAKE_SSH_STATUS: "1" });
    assert.equal(r.status, 1);
    assert.match(r.out, /health check on 10\.0\.1\.20 failed/);
  });
});
