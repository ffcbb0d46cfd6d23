/**
 * The service config files of a host (hostfiles/services) through the real programs: promtool and amtool check the
 * configs and rules of both stacks, promtool runs the meta-alerts' unit tests, and a real Prometheus and Alertmanager
 * start on loopback with the rendered flags and config. The structural checks are in tests/service-configs.spec.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { SERVICES } from "../layout/host-layout";
import { DISCARD_RECEIVER } from "../hostfiles/services/alertmanager";
import { alertmanagerFlags, prometheusFlags } from "../hostfiles/services/flags";
import { META_ALERTS_FILE, metaAlerts } from "../rules/meta-alerts";
import { runbookUrl } from "../rules/runbook-links";
import { stackConfig } from "./support/stacks";
import { Daemon, freePort, startDaemon, stopDaemons, waitFor, withFlags } from "./support/daemons";
import { requireTool, run, tempDir } from "./support/validators";
import { APPS, devWithWebhook, Doc, file, pointRuleFilesAt, render, Rendered, REPO, STACKS, webhookUrlFileToUrlForAmtool025, withoutWebhookUrls, writeHostTree } from "./support/service-configs";

describe("service config files through the real validators and daemons", () => {
  for (const stack of STACKS) {
    describe(`stack ${stack}`, () => {
      let r: Rendered;
      let tmp: { dir: string; cleanup(): void };

      before(() => {
        r = render(stack);
        tmp = tempDir(`svc-${stack}-`);
        writeHostTree(tmp.dir, r.files);
      });
      after(() => tmp.cleanup());

      describe("Prometheus", () => {
        it("passes `promtool check config`, with the rule files it loads", function () {
          requireTool(this, "promtool");
          const checked = path.join(tmp.dir, "prometheus-check.yml");
          const original = file(r, SERVICES.prometheus.config).content;
          fs.writeFileSync(checked, pointRuleFilesAt(original, tmp.dir));
          const res = run("promtool", ["check", "config", checked]);
          assert.equal(res.status, 0, res.stdout + res.stderr);
          // The rule file was found and loaded: the meta-alerts are counted.
          assert.match(res.stdout + res.stderr, new RegExp(`SUCCESS: ${metaAlerts().length} rules found`));
        });
      });

      describe("meta-alerts", () => {
        it("pass `promtool check rules`", function () {
          requireTool(this, "promtool");
          const res = run("promtool", ["check", "rules", path.join(tmp.dir, META_ALERTS_FILE)]);
          assert.equal(res.status, 0, res.stdout + res.stderr);
        });

        it("pass the promtool unit tests (Watchdog always fires; a target down fires after its `for`; a healthy one does not)", function () {
          requireTool(this, "promtool");
          const dir = path.join(tmp.dir, "rule-tests");
          fs.mkdirSync(dir, { recursive: true });
          fs.copyFileSync(path.join(tmp.dir, META_ALERTS_FILE), path.join(dir, "meta.yml"));
          const testYml = fs.readFileSync(path.join(REPO, "tests/meta-alerts.test.yml"), "utf8");
          fs.writeFileSync(path.join(dir, "meta-alerts.test.yml"), testYml.replace(/RUNBOOK_BASE\/([a-z0-9-]+\.md)/g, (_, file: string) => runbookUrl(r.cfg, { file })));
          const res = run("promtool", ["test", "rules", "meta-alerts.test.yml"], { cwd: dir });
          assert.equal(res.status, 0, res.stdout + res.stderr);
          assert.match(res.stdout, /SUCCESS/);
        });
      });

      describe("Alertmanager", () => {
        it("passes `amtool check-config` (0.25, after the single url_file → url rewrite)", function () {
          requireTool(this, "amtool");
          const original = file(r, SERVICES.alertmanager.config).content;
          const rewritten = webhookUrlFileToUrlForAmtool025(original);
          assert.deepEqual(withoutWebhookUrls(YAML.parse(rewritten)), withoutWebhookUrls(YAML.parse(original)));
          const p = path.join(tmp.dir, "alertmanager-check.yml");
          fs.writeFileSync(p, rewritten);
          const res = run("amtool", ["check-config", p]);
          assert.equal(res.status, 0, res.stdout + res.stderr);
        });

        it("routes each severity to exactly the receivers that take it", function () {
          requireTool(this, "amtool");
          const p = path.join(tmp.dir, "alertmanager-routes.yml");
          fs.writeFileSync(p, webhookUrlFileToUrlForAmtool025(file(r, SERVICES.alertmanager.config).content));
          const routeOf = (...labels: string[]) => {
            const res = run("amtool", ["config", "routes", "test", `--config.file=${p}`, ...labels]);
            assert.equal(res.status, 0, res.stdout + res.stderr);
            return res.stdout.trim().split(",").sort();
          };
          for (const severity of ["page", "ticket", "watchdog"] as const) {
            const takers = r.cfg.alerting.receivers.filter((x) => x.severities.includes(severity)).map((x) => x.name);
            const expected = takers.length > 0 ? takers.sort() : [DISCARD_RECEIVER];
            assert.deepEqual(routeOf("alertname=X", `severity=${severity}`), expected, severity);
          }
          // A rule with a mistyped severity still reaches someone who takes tickets.
          const ticketTakers = r.cfg.alerting.receivers.filter((x) => x.severities.includes("ticket")).map((x) => x.name);
          const unknown = routeOf("alertname=X", "severity=pgae");
          assert.equal(unknown.length, 1);
          assert.ok(ticketTakers.includes(unknown[0]), `unknown severity went to ${unknown}`);
        });
      });
    });
  }

  describe("appScrapeTargets", () => {
    it("the Prometheus config with application jobs passes `promtool check config`", function () {
      requireTool(this, "promtool");
      const r = render("dev", stackConfig("dev", { appScrapeTargets: APPS }));
      const tmp = tempDir("svc-apps-");
      try {
        writeHostTree(tmp.dir, r.files);
        const p = path.join(tmp.dir, "prometheus-check.yml");
        fs.writeFileSync(p, pointRuleFilesAt(file(r, SERVICES.prometheus.config).content, tmp.dir));
        const res = run("promtool", ["check", "config", p]);
        assert.equal(res.status, 0, res.stdout + res.stderr);
      } finally {
        tmp.cleanup();
      }
    });
  });

  describe("Alertmanager with a webhook receiver", () => {
    it("amtool 0.25 refuses url_file and accepts the config once it is rewritten; the webhook takes the Watchdog", function () {
      requireTool(this, "amtool");
      const r = render("dev", devWithWebhook());
      const original = file(r, SERVICES.alertmanager.config).content;
      const tmp = tempDir("svc-webhook-");
      try {
        const p = path.join(tmp.dir, "alertmanager.yml");
        fs.writeFileSync(p, original);
        // Proves the rewrite is needed, so the test notices the day amtool accepts url_file.
        assert.notEqual(run("amtool", ["check-config", p]).status, 0, "amtool 0.25 rejects url_file");
        fs.writeFileSync(p, webhookUrlFileToUrlForAmtool025(original));
        const res = run("amtool", ["check-config", p]);
        assert.equal(res.status, 0, res.stdout + res.stderr);
        const routes = run("amtool", ["config", "routes", "test", `--config.file=${p}`, "severity=watchdog"]);
        assert.equal(routes.stdout.trim(), "ops-webhook", "a receiver that takes watchdog gets it instead of the discard route");
      } finally {
        tmp.cleanup();
      }
    });
  });

  describe("real daemons on loopback", function () {
    this.timeout(90_000);
    let tmp: { dir: string; cleanup(): void };
    const daemons: Daemon[] = [];
    before(() => (tmp = tempDir("svc-daemons-")));
    after(async () => {
      await stopDaemons(daemons);
      tmp.cleanup();
    });

    it("Prometheus starts with the rendered flags and config, loads the meta-alerts, fires the Watchdog and reloads", async function () {
      requireTool(this, "prometheus");
      const r = render("dev");
      writeHostTree(tmp.dir, r.files);
      const port = await freePort();
      const configPath = path.join(tmp.dir, "prometheus-run.yml");
      fs.writeFileSync(configPath, pointRuleFilesAt(file(r, SERVICES.prometheus.config).content, tmp.dir));
      const args = withFlags(prometheusFlags(r.cfg), {
        "--config.file": configPath,
        "--storage.tsdb.path": path.join(tmp.dir, "prometheus-data"),
        "--web.listen-address": `127.0.0.1:${port}`,
      });
      // Waits (bounded, 30 s) for /-/ready; kills the daemon and reports its output when it does not get there.
      const d = await startDaemon({ name: "prometheus", cmd: "prometheus", args, port });
      daemons.push(d);
      const base = d.base;
      const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as Doc;
      const loaded = (rules.data.groups as Doc[]).flatMap((g) => g.rules as Doc[]).map((x) => x.name);
      assert.deepEqual(loaded.sort(), metaAlerts().map((a) => a.alert).sort());
      await waitFor("the Watchdog to fire", 45_000, async () => {
        const alerts = (await (await fetch(`${base}/api/v1/alerts`)).json()) as Doc;
        return (alerts.data.alerts as Doc[]).find((a) => a.labels.alertname === "Watchdog" && a.state === "firing");
      });
      const reload = await fetch(`${base}/-/reload`, { method: "POST" });
      assert.equal(reload.status, 200, "--web.enable-lifecycle allows POST /-/reload");
    });

    it("Alertmanager starts with the rendered flags and config (webhook url rewritten), clustering off, and inhibits as intended", async function () {
      requireTool(this, "prometheus-alertmanager");
      const r = render("prd");
      const port = await freePort();
      const configPath = path.join(tmp.dir, "alertmanager-run.yml");
      fs.writeFileSync(configPath, webhookUrlFileToUrlForAmtool025(file(r, SERVICES.alertmanager.config).content));
      const args = withFlags(alertmanagerFlags(), {
        "--config.file": configPath,
        "--storage.path": path.join(tmp.dir, "alertmanager-data"),
        "--web.listen-address": `127.0.0.1:${port}`,
      });
      const d = await startDaemon({ name: "alertmanager", cmd: "prometheus-alertmanager", args, port });
      daemons.push(d);
      const base = d.base;
      const status = (await (await fetch(`${base}/api/v2/status`)).json()) as Doc;
      assert.equal(status.cluster.status, "disabled");
      const receivers = (await (await fetch(`${base}/api/v2/receivers`)).json()) as Doc[];
      assert.deepEqual(receivers.map((x) => x.name).sort(), [...r.cfg.alerting.receivers.map((x) => x.name), DISCARD_RECEIVER].sort());

      // Inhibition, as the running Alertmanager applies it.
      const alert = (labels: Record<string, string>) => ({ labels, annotations: { summary: "test" }, startsAt: new Date().toISOString() });
      const posted = await fetch(`${base}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([
          alert({ alertname: "SloFastBurn", severity: "page", slo: "availability", service: "api" }),
          alert({ alertname: "SloSlowBurn", severity: "ticket", slo: "availability", service: "api" }),
          alert({ alertname: "SloSlowBurn", severity: "ticket", slo: "latency", service: "api" }),
          alert({ alertname: "SomethingElse", severity: "ticket", service: "api" }),
          alert({ alertname: "MonitoringTargetDown", severity: "page", job: "loki" }),
          alert({ alertname: "LokiChunkFlushFailing", severity: "ticket", job: "loki" }),
        ]),
      });
      assert.equal(posted.status, 200);
      const state = await waitFor("the posted alerts", 10_000, async () => {
        const alerts = (await (await fetch(`${base}/api/v2/alerts`)).json()) as Doc[];
        return alerts.length === 6 ? alerts : undefined;
      });
      const suppressed = (labels: Record<string, string>) => {
        const a = state.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
        assert.ok(a, JSON.stringify(labels));
        return (a.status.inhibitedBy as string[]).length > 0;
      };
      assert.equal(suppressed({ alertname: "SloSlowBurn", slo: "availability" }), true, "a page inhibits the ticket of the same slo");
      assert.equal(suppressed({ alertname: "SloSlowBurn", slo: "latency" }), false, "not the ticket of another slo");
      assert.equal(suppressed({ alertname: "SomethingElse" }), false, "nor a ticket without an slo");
      assert.equal(suppressed({ alertname: "SloFastBurn" }), false);
      assert.equal(suppressed({ alertname: "LokiChunkFlushFailing" }), true, "a down target's other alerts follow from it");
      assert.equal(suppressed({ alertname: "MonitoringTargetDown" }), false);
    });
  });
});