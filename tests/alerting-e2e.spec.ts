/**
 * Alerting end to end (issue 6): real Prometheus 2.42 and Alertmanager 0.25 on 127.0.0.1, started with the files
 * and flags rendered for the `dev` stack, a synthetic application exposing the metric contract, and a webhook
 * receiver standing in for Slack. The only changes to the rendered files are made by `sandboxRewrite`
 * (tests/integration/sandbox.ts), and the first test proves that nothing else differs.
 *
 * Short intervals: TEST_TIMING in tests/integration/sandbox.ts (1s scrape/evaluation/group_wait/group_interval).
 * Rule `for` durations are NOT shortened: the app-down page keeps its production `for`.
 *
 * The scenarios run in order and share the daemons (each builds on the state the previous one left); the whole
 * suite takes about 2 minutes (1m of it is the page's production `for`). Run it alone with
 * `npx mocha tests/alerting-e2e.spec.ts` (docs/testing.md).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as YAML from "yaml";
import { ALERTING_TIMING, SERVICES } from "../layout/host-layout";
import { secretFiles } from "../hostfiles/secrets";
import { alertmanagerFlags, prometheusFlags } from "../hostfiles/services/flags";
import { parseDuration } from "../config/duration";
import { STACK_JOBS } from "../hostfiles/services/prometheus";
import { ALERT_NAMES, BURN_TIERS } from "../config/slo-alerts";
import { buildSloModels } from "../rules/slo-model";
import { routeAlert } from "../config/alert-routing";
import { runbookUrl } from "../rules/runbook-links";
import { BILLING, twoTeamStackConfig } from "./support/stacks";
import { sleep, waitFor } from "./support/daemons";
import { requireTool } from "./support/validators";
import { AlertingSandbox, ALERTMANAGER_BIN, PROMETHEUS_BIN } from "./integration/alerting-sandbox";
import { Doc, notificationFloorSeconds, renderedTiming, seconds, structuralDiff, TEST_TIMING } from "./integration/sandbox";
import { Received, slackMessage } from "./integration/webhook-receiver";

const PAGE_RECEIVER = "team-slack";
/** Probe alerts added to a rule file to exercise the reload and a silence (`vector(1)`: always true). */
const RELOAD_PROBE = "E2eReloadProbe";
const SILENCED_PROBE = "E2eSilencedProbe";

describe("alerting end to end: rendered dev configs on real Prometheus and Alertmanager", function () {
  this.timeout(60_000);
  let sb: AlertingSandbox;
  const started = Date.now();

  before(async function () {
    requireTool(this, PROMETHEUS_BIN);
    requireTool(this, ALERTMANAGER_BIN);
    this.timeout(90_000);
    // The dev stack plus a second service with its own team and receiver (tests/support/stacks.ts): what holds here
    // holds for any number of services, and the billing team's page must reach the billing receiver only.
    sb = await AlertingSandbox.start({ cfg: twoTeamStackConfig("dev") });
  });

  after(async function () {
    this.timeout(30_000);
    if (sb) await sb.close();
    console.log(`      (alerting e2e: ${((Date.now() - started) / 1000).toFixed(1)} s including start-up and cleanup)`);
  });

  const fromPage = (r: Received, alertname: string, status: "FIRING" | "RESOLVED", receiver = PAGE_RECEIVER, service?: string) => {
    const m = slackMessage(r);
    return r.receiver === receiver && m?.alertname === alertname && m.status === status && (!service || m.text.includes(`\`service=${service}\``));
  };

  it("runs the rendered files: only paths, addresses and TEST_TIMING differ, and the production intervals stay rendered", () => {
    const s = sb.sandbox;
    const prom = s.prometheus.original;
    const am = s.alertmanager.original;
    // The rendered files carry the production timing.
    assert.equal(prom.global.scrape_interval, ALERTING_TIMING.scrapeInterval);
    assert.equal(prom.global.evaluation_interval, ALERTING_TIMING.evaluationInterval);
    assert.equal(am.route.group_wait, ALERTING_TIMING.groupWait);
    assert.equal(am.route.group_interval, ALERTING_TIMING.groupInterval);

    const job = (name: string) => (prom.scrape_configs as Doc[]).findIndex((j) => j.job_name === name);
    assert.equal(sb.sandbox.plan.appJob, STACK_JOBS.otelcolApps, "dev as committed: the application reaches Prometheus through the collector");
    const promChanges = structuralDiff(prom, s.prometheus.doc).map((c) => c.path).sort();
    assert.deepEqual(
      promChanges,
      [
        "alerting.alertmanagers[0].static_configs[0].targets[0]",
        "global.evaluation_interval",
        "global.scrape_interval",
        "rule_files[0]",
        `scrape_configs[${job(STACK_JOBS.prometheus)}].static_configs[0].targets[0]`,
        `scrape_configs[${job(STACK_JOBS.alertmanager)}].static_configs[0].targets[0]`,
        `scrape_configs[${job(STACK_JOBS.otelcolApps)}].static_configs[0].targets[0]`,
      ].sort(),
    );
    const slacks = (am.receivers as Doc[]).map((r, i) => [r, i] as const).filter(([r]) => r.slack_configs);
    assert.ok(slacks.length >= 2, "both teams' Slack receivers");
    const amChanges = structuralDiff(am, s.alertmanager.doc).map((c) => c.path).sort();
    assert.deepEqual(amChanges, [...slacks.map(([, i]) => `receivers[${i}].slack_configs[0].api_url_file`), "route.group_interval", "route.group_wait"].sort());
    // The rendered file reads each Slack URL from the systemd credential; the sandbox's secret file holds the loopback URL.
    for (const [r, i] of slacks) {
      const secret = secretFiles(sb.cfg).find((x) => x.id === `receiver-${r.name}`);
      assert.equal(am.receivers[i].slack_configs[0].api_url_file, secret?.path);
      assert.equal(fs.readFileSync(s.alertmanager.doc.receivers[i].slack_configs[0].api_url_file, "utf8"), sb.webhook.url(r.name));
    }
    assert.equal(s.prometheus.doc.global.scrape_interval, TEST_TIMING.scrapeInterval);
    assert.equal(s.alertmanager.doc.route.group_wait, TEST_TIMING.groupWait);

    // Rule files: byte-identical to what the host gets (the SLO rules and the meta-alerts).
    const renderedRules = sb.rendered.filter((f) => f.path.startsWith("/etc/prometheus/rules/"));
    assert.ok(renderedRules.length >= 2, renderedRules.map((f) => f.path).join(", "));
    assert.deepEqual(s.ruleFiles.map((f) => f.hostPath).sort(), renderedRules.map((f) => f.path).sort());
    for (const f of s.ruleFiles) {
      assert.equal(fs.readFileSync(f.path, "utf8"), renderedRules.find((r) => r.path === f.hostPath)?.content, f.hostPath);
    }

    // Flags: the rendered ones, with three paths/addresses swapped each.
    const swapped = (rendered: string[], run: string[]) => rendered.filter((f, i) => run[i] !== f).map((f) => f.split("=")[0]);
    assert.equal(s.prometheus.args.length, prometheusFlags(sb.cfg).length);
    assert.deepEqual(swapped(prometheusFlags(sb.cfg), s.prometheus.args), ["--config.file", "--storage.tsdb.path", "--web.listen-address"]);
    assert.equal(s.alertmanager.args.length, alertmanagerFlags().length);
    assert.deepEqual(swapped(alertmanagerFlags(), s.alertmanager.args), ["--config.file", "--storage.path", "--web.listen-address", "--data.maintenance-interval"]);
    for (const a of [...s.prometheus.args, ...s.alertmanager.args]) assert.ok(!a.includes("0.0.0.0"), a);
    assert.ok(s.alertmanager.args.includes("--cluster.listen-address="));
  });

  it("healthy: the SLO rules see the application's metrics, nothing about it is pending, no notification", async function () {
    this.timeout(30_000);
    const services = [...new Set(sb.cfg.slos.map((x) => x.service))];
    assert.ok(services.length >= 2);
    // Every SLO's 5m record is computed from the synthetic application's series (the metric contract holds), for
    // every service of the stack.
    const records = await waitFor("SLO records of every SLO", 20_000, async () => {
      const ratio = await sb.query(`slo:sli_error:ratio_rate5m`);
      const sat = await sb.query(`slo:db_connections:saturation_ratio`);
      const all = [...ratio, ...sat];
      return sb.cfg.slos.every((x) => all.some((r) => r.metric.slo === x.name)) ? all : undefined;
    });
    const up = await sb.query(`up{job="${sb.sandbox.plan.appJob}"}`);
    assert.equal(up[0]?.value[1], "1", "the application is scraped");
    for (const r of records) {
      const expected = r.metric.__name__ === "slo:db_connections:saturation_ratio" ? 0.3 : 0;
      assert.equal(Number(r.value[1]), expected, JSON.stringify(r));
    }
    // Several evaluations later: no alert about the application pending or firing, and nothing was sent.
    await sleep(5 * seconds(TEST_TIMING.evaluationInterval) * 1000);
    const active = await sb.promAlerts();
    const aboutApp = active.filter((a) => services.includes(a.labels.service) || a.labels.slo || a.labels.job === STACK_JOBS.otelcolApps);
    assert.deepEqual(aboutApp, [], "alerts about a healthy application");
    // The only other active alerts: the Watchdog (routed to discard) and the stack services that do not run in the
    // sandbox, pending for their 5m `for`.
    const notRunning = [STACK_JOBS.grafana, STACK_JOBS.loki, STACK_JOBS.tempo, STACK_JOBS.otelcol, STACK_JOBS.node] as string[];
    for (const a of active) {
      if (a.labels.alertname === "Watchdog") continue;
      // node_exporter (which publishes the certificates' expiry) does not run either: pending for its 30m `for`.
      if (a.labels.alertname === "HostCertificateExpiryUnknown") {
        assert.equal(a.state, "pending");
        continue;
      }
      assert.equal(a.labels.alertname, "MonitoringTargetDown", JSON.stringify(a.labels));
      assert.ok(notRunning.includes(a.labels.job), `${a.labels.job} should be up in the sandbox`);
      assert.equal(a.state, "pending");
    }
    // Alertmanager holds nothing but (once Prometheus has found it) the Watchdog.
    assert.deepEqual((await sb.amAlerts()).map((a) => a.labels.alertname).filter((n) => n !== "Watchdog"), []);
    assert.deepEqual(sb.webhook.received, [], "no notification while healthy");
  });

  let stoppedAt = 0;
  it("application stopped: each service's app-down page reaches its team's receiver only, with its labels and runbook link, no sooner than `for`", async function () {
    const alert = sb.sut.serviceDown;
    assert.equal(alert.alert, ALERT_NAMES.serviceDown);
    const floor = notificationFloorSeconds(TEST_TIMING, alert.for);
    this.timeout((floor + 60) * 1000);
    stoppedAt = await sb.app.stop();
    // Every service behind the endpoint is gone: one page per service, each routed by its labels.
    const downAlerts = buildSloModels(sb.cfg).services.map((x) => x.alert!).filter(Boolean);
    assert.ok(downAlerts.length >= 2);
    const pages = new Map<string, Received>();
    for (const a of downAlerts) {
      const to = routeAlert({ alertname: a.alert, ...a.labels }, sb.cfg.alerting.receivers).receivers;
      assert.equal(to.length, 1, `${a.labels.service}: one receiver`);
      const page = await sb.webhook.waitFor(`the ${a.alert} page of ${a.labels.service} at ${to[0]}`, (floor + 30) * 1000, (r) => fromPage(r, a.alert, "FIRING", to[0], a.labels.service), stoppedAt);
      pages.set(a.labels.service, page);
    }
    const billingPage = pages.get(BILLING.service)!;
    assert.equal(billingPage.receiver, BILLING.receiver, "the billing page reaches the billing receiver");
    const page = pages.get(alert.labels.service)!;
    assert.equal(page.receiver, PAGE_RECEIVER);
    const latency = (page.at - stoppedAt) / 1000;
    console.log(
      `      app stopped → ${alert.alert} page at the receiver: ${latency.toFixed(1)} s ` +
        `(floor ${floor} s = scrape ${TEST_TIMING.scrapeInterval} + evaluation ${TEST_TIMING.evaluationInterval} + for ${alert.for} + group_wait ${TEST_TIMING.groupWait})`,
    );
    assert.ok(latency >= seconds(alert.for), `paged after ${latency} s, before the rule's for (${alert.for})`);
    assert.ok(latency <= floor + 10, `paged after ${latency} s; floor ${floor} s`);

    const msg = slackMessage(page)!;
    assert.equal(msg.channel, sb.cfg.alerting.receivers.find((r) => r.name === PAGE_RECEIVER)?.channel);
    assert.equal(msg.title, `[FIRING:1] ${alert.alert}`);
    assert.equal(msg.color, "danger");
    assert.ok(msg.text.includes(alert.annotations.summary), msg.text);
    assert.ok(msg.text.includes(alert.annotations.description), msg.text);
    assert.ok(msg.text.includes(`Runbook: ${runbookUrl(sb.cfg, alert.runbook)}`), msg.text);
    for (const label of ["severity", "service", "slo"]) {
      assert.ok(msg.text.includes(`\`${label}=${alert.labels[label]}\``), `the visible message shows ${label}: ${msg.text}`);
    }
    // The labels: as Alertmanager holds the notified alert, and their values in the message's fallback line.
    const expectedLabels = { alertname: alert.alert, ...alert.labels, environment: sb.cfg.environment, stack: sb.cfg.stack };
    const inAm = (await sb.amAlerts()).filter((a) => a.labels.alertname === alert.alert);
    const mine = inAm.find((a) => a.labels.service === alert.labels.service);
    assert.ok(mine, "the page is in Alertmanager");
    assert.deepEqual(mine.labels, expectedLabels);
    assert.deepEqual(mine.receivers.map((r: Doc) => r.name), [PAGE_RECEIVER]);
    assert.equal(mine.annotations.runbook_url, runbookUrl(sb.cfg, alert.runbook));
    const billing = inAm.find((a) => a.labels.service === BILLING.service);
    assert.deepEqual(billing?.receivers.map((r: Doc) => r.name), [BILLING.receiver], "Alertmanager routed the billing page to the billing receiver only");
    const fallback = String(page.body.attachments[0].fallback);
    for (const v of Object.values(expectedLabels)) assert.ok(fallback.includes(v), `label value ${v} missing from "${fallback}"`);
    // Exactly one notification per service so far, each at its own receiver: the billing page reached no other.
    await sleep(3 * seconds(TEST_TIMING.groupInterval) * 1000);
    assert.deepEqual([...sb.webhook.received].sort((a, b) => a.at - b.at), [...pages.values()].sort((a, b) => a.at - b.at));
  });

  it("application back: the resolved notification arrives", async function () {
    this.timeout(40_000);
    const alert = sb.sut.serviceDown;
    await sb.app.start();
    const back = Date.now();
    const resolved = await sb.webhook.waitFor(`the ${alert.alert} resolved notification`, 30_000, (r) => fromPage(r, alert.alert, "RESOLVED", PAGE_RECEIVER, alert.labels.service), back);
    console.log(`      app back → resolved notification: ${((resolved.at - back) / 1000).toFixed(1)} s`);
    const msg = slackMessage(resolved)!;
    assert.equal(msg.title, `[RESOLVED] ${alert.alert}`);
    assert.equal(msg.color, "good");
    assert.ok(msg.text.includes(`Runbook: ${runbookUrl(sb.cfg, alert.runbook)}`));
    // One page and one resolved notification per service.
    const services = buildSloModels(sb.cfg).services.filter((x) => x.alert).length;
    await waitFor("every service's resolved notification", 20_000, async () => (sb.webhook.received.length === 2 * services ? true : undefined));
  });

  let silenceId = "";
  it("Alertmanager killed (SIGKILL) and restarted: a silence created a snapshot interval before is still there and active", async function () {
    this.timeout(40_000);
    // The silence is created before the alert it matches exists (the probe appears with the rule reload below).
    silenceId = await sb.createSilence({ alertname: SILENCED_PROBE }, "alerting e2e: must survive an Alertmanager restart");
    const before = (await sb.silences()).find((s) => s.id === silenceId);
    assert.ok(before);
    assert.equal(before.status.state, "active");
    const oldPid = sb.alertmanager!.pid;
    // A crash (OOM kill) gives no clean shutdown: only the periodic snapshot keeps the silence.
    await new Promise((r) => setTimeout(r, (parseDuration(TEST_TIMING.silenceSnapshotInterval)!.seconds + 1) * 1000));
    await sb.restartAlertmanager("SIGKILL");
    assert.notEqual(sb.alertmanager!.pid, oldPid);
    const after = (await sb.silences()).find((s) => s.id === silenceId);
    assert.ok(after, "silence lost across the restart");
    assert.equal(after.status.state, "active");
    assert.deepEqual(after.matchers, before.matchers);
    assert.equal(after.endsAt, before.endsAt);
  });

  it("Prometheus killed with SIGKILL and restarted: samples from before the kill are still queryable", async function () {
    this.timeout(60_000);
    const svc = sb.sut.service;
    const at = Date.now() / 1000;
    // Raw samples up to `at` (a moment before the kill): the application's series, every scrape's `up`, and the
    // ALERTS series of the page.
    const exprs = [
      `target_info{job="${svc}"}[10m]`,
      `http_server_request_duration_seconds_count{job="${svc}"}[10m]`,
      "up[10m]",
      `ALERTS{alertname="${sb.sut.serviceDown.alert}"}[10m]`,
    ];
    const beforeKill = await Promise.all(exprs.map((e) => sb.query(e, at)));
    const samples = (r: Doc[]) => r.flatMap((s) => s.values as [number, string][]);
    const counts = beforeKill.map((r) => samples(r).length);
    assert.ok(counts[0] >= 5 && counts[1] >= 5, `samples: ${counts.join(", ")}`);
    assert.ok(samples(beforeKill[0])[0][0] * 1000 < stoppedAt, "the samples reach back to before the application was stopped");
    assert.ok(counts[2] >= 8 * 50, `only ${counts[2]} samples of up`);
    assert.ok(counts[3] >= 10, "the page's ALERTS series was recorded");

    const oldPid = sb.prometheus!.pid;
    const killedAt = Date.now();
    await sb.restartPrometheus("SIGKILL");
    console.log(`      Prometheus SIGKILLed and ready again in ${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    assert.notEqual(sb.prometheus!.pid, oldPid);
    assert.match(sb.prometheus!.output(), /WAL replay completed/);
    const afterKill = await Promise.all(exprs.map((e) => sb.query(e, at)));
    assert.deepEqual(afterKill, beforeKill, "samples differ after the SIGKILL restart");
    console.log(`      ${counts.reduce((a, b) => a + b, 0)} samples from before the kill: all still there`);
  });

  it("a changed rule file is loaded by SIGHUP (the units' ExecReload) without restarting Prometheus; its alert pages, the silence from before the Alertmanager restart suppresses the other", async function () {
    this.timeout(60_000);
    // Prometheus finds Alertmanager through discovery a few seconds after (re)starting.
    await waitFor("Prometheus to know the Alertmanager", 20_000, async () => ((await sb.activeAlertmanagers()).length ? true : undefined));
    const rulePath = sb.ruleFilePath(sb.sandbox.ruleFiles.find((f) => f.hostPath?.includes("/slo-"))!.hostPath!);
    const doc = YAML.parse(fs.readFileSync(rulePath, "utf8")) as Doc;
    // `for: 10s`: Prometheus 2.42 rebuilds its Alertmanager list on every reload and refills it from discovery up to
    // 5 s later; an alert that first fires inside that gap is dropped and only re-sent after the 1m resend delay.
    const probe = (alert: string) => ({
      alert,
      expr: "vector(1)",
      for: "10s",
      labels: { severity: "page", service: sb.sut.service },
      annotations: { summary: `${alert} (alerting e2e)`, runbook_url: runbookUrl(sb.cfg, { file: "watchdog.md" }) },
    });
    doc.groups.push({ name: "alerting-e2e:reload-probe", rules: [probe(RELOAD_PROBE), probe(SILENCED_PROBE)] });
    const pid = sb.prometheus!.pid;
    const before = await sb.runtimeInfo();
    assert.ok(!(await sb.rules()).some((r) => r.name === RELOAD_PROBE));
    fs.writeFileSync(rulePath, YAML.stringify(doc));

    const reloadedAt = Date.now();
    const after = await sb.reloadPrometheusWithSighup();
    assert.equal(after.reloadConfigSuccess, true);
    assert.equal(sb.prometheus!.pid, pid);
    assert.ok(sb.prometheus!.running(), "Prometheus kept running");
    assert.equal(after.startTime, before.startTime, "not restarted");
    const loaded = await sb.rules();
    for (const name of [RELOAD_PROBE, SILENCED_PROBE]) {
      const r = loaded.find((x) => x.name === name);
      assert.ok(r, `${name} loaded`);
      assert.equal(r.file, rulePath);
      assert.equal(r.type, "alerting");
    }
    // The rules that were there stay loaded.
    assert.ok(loaded.some((r) => r.name === sb.sut.serviceDown.alert));

    const page = await sb.webhook.waitFor(`the ${RELOAD_PROBE} page`, 30_000, (r) => fromPage(r, RELOAD_PROBE, "FIRING"), reloadedAt);
    console.log(`      rule file changed + SIGHUP → new alert (for 10s) paged: ${((page.at - reloadedAt) / 1000).toFixed(1)} s`);
    const silenced = await waitFor(`${SILENCED_PROBE} in Alertmanager`, 10_000, async () => (await sb.amAlerts()).find((a) => a.labels.alertname === SILENCED_PROBE));
    assert.equal(silenced.status.state, "suppressed");
    assert.deepEqual(silenced.status.silencedBy, [silenceId]);
    // Both probes reached Alertmanager in the same batch; give the silenced one a few group intervals more.
    await sleep(3 * seconds(TEST_TIMING.groupInterval) * 1000 + 1_000);
    assert.ok(!sb.webhook.received.some((r) => slackMessage(r)?.alertname === SILENCED_PROBE), "the silenced alert was sent");
  });

  for (const mode of ["failing", "slow"] as const) {
    it(`application ${mode}: the SLO's error ratio rises and its fast burn-rate alert goes pending`, async function () {
      this.timeout(75_000);
      const kind = mode === "failing" ? "availability" : "latency";
      const slo = sb.cfg.slos.find((x) => x.service === sb.sut.service && x.kind === kind);
      assert.ok(slo, `dev has a ${kind} SLO`);
      const fast = BURN_TIERS.find((t) => t.id === "fast")!;
      sb.app.setMode(mode);
      const pending = await waitFor(`${fast.alert}{slo="${slo.name}"} to go pending`, 60_000, async () =>
        (await sb.promAlerts()).find((a) => a.labels.alertname === fast.alert && a.labels.slo === slo.name),
      );
      assert.equal(pending.labels.severity, "page");
      const up = await sb.query(`up{job="${sb.sandbox.plan.appJob}"}`);
      assert.equal(up[0]?.value[1], "1", `the application is still scraped while ${mode}`);
      const ratio = await sb.query(`slo:sli_error:ratio_rate5m{slo="${slo.name}"}`);
      assert.ok(Number(ratio[0].value[1]) > 0, JSON.stringify(ratio));
      // The other SLO of the route is not affected by this mode.
      const other = sb.cfg.slos.find((x) => x.service === sb.sut.service && x.kind === (kind === "latency" ? "availability" : "latency"))!;
      if (mode === "failing") {
        const otherRatio = await sb.query(`slo:sli_error:ratio_rate5m{slo="${other.name}"}`);
        assert.equal(Number(otherRatio[0].value[1]), 0, "failing requests are fast: the latency SLO stays clean");
      }
      sb.app.setMode("healthy");
    });
  }
});
