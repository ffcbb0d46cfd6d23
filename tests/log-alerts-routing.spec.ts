/**
 * Log alerts on the real Alertmanager 0.25 (issue 16): alerts carrying exactly the labels Loki's ruler sends reach
 * the receivers their severity names, an SLO page of the same service inhibits them, MonitoringTargetDown inhibits
 * a host service's, and the runbooks' `amtool silence add` silences them.
 *
 * What the ruler sends (pkg/ruler/base in Loki at the pinned release, docs/log-alerts.md): the labels of the
 * expression's result (`sum by (service_name)` keeps `service_name`), the rule's labels, `alertname`, and the
 * ruler's `external_labels` (added by its notifier where the alert lacks them); annotations are expanded
 * templates. `lokiAlert` builds exactly that from the rendered rule file and loki.yaml, and posts it to
 * `/api/v2/alerts` as the ruler does (`enable_alertmanager_v2`).
 *
 * Alertmanager runs with the rendered alertmanager.yml and flags through `sandboxRewrite` (receivers pointed at a
 * loopback webhook, group_wait/group_interval 1s).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { StackConfig } from "../config/stack-config";
import { LOKI_RULES_FILE, SERVICES } from "../layout/host-layout";
import { renderHostFiles } from "../hostfiles/host-files";
import { HostFile, placeholderBundleContext } from "../layout/host-file";
import { APPLICATION_LOG_ALERT, HOST_LOG_ALERT } from "../config/log-alert-defaults";
import { buildSloModels } from "../rules/slo-model";
import { Daemon, freePort, startDaemon, stopDaemons, waitFor } from "./support/daemons";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";
import { ALERTMANAGER_BIN } from "./integration/alerting-sandbox";
import { Doc, sandboxRewrite, TEST_TIMING } from "./integration/sandbox";
import { WebhookReceiver } from "./integration/webhook-receiver";

const SLACK_SECRET = "https://hooks.slack.com/services/T000/B000/routing-test";
const WEBHOOK_SECRET = "https://pager.example.org/hook";

/** dev with one receiver per severity, so a notification's receiver shows the route it took. */
function routingConfig(): StackConfig {
  return stackConfig(
    "dev",
    {
      alertReceivers: [
        { name: "pager", type: "webhook", severities: ["page"] },
        { name: "tickets", type: "slack", channel: "#tickets", severities: ["ticket"] },
        { name: "deadman", type: "webhook", severities: ["watchdog"] },
      ],
      // A page-severity log alert of the stack's own, next to the defaults.
      logAlerts: [{ name: "appointments-db-down", service: "appointments-api", filter: '|= "ECONNREFUSED"', threshold: 0, severity: "page", labels: { team: "appointments" } }],
    },
    { alertReceiverSecrets: { pager: WEBHOOK_SECRET, tickets: SLACK_SECRET, deadman: WEBHOOK_SECRET } },
  );
}

/** The alert Loki's ruler sends for `logAlert` (a `log_alert` label value) of the rendered rule file. */
function lokiAlert(files: HostFile[], logAlert: string, value: number, extra: Record<string, string> = {}): Doc {
  const rules = (YAML.parse(files.find((f) => f.path === LOKI_RULES_FILE)!.content).groups as Doc[]).flatMap((g) => g.rules as Doc[]);
  const rule = rules.find((r) => r.labels.log_alert === logAlert);
  assert.ok(rule, `no rule with log_alert=${logAlert}`);
  const external = YAML.parse(files.find((f) => f.path === SERVICES.loki.config)!.content).ruler.external_labels as Record<string, string>;
  // The series the expression returns: sum by (service_name) keeps only service_name.
  const service = rule.labels.service as string;
  const series = { service_name: service.slice(service.lastIndexOf("/") + 1) };
  const labels: Record<string, string> = { ...series, ...rule.labels, alertname: rule.alert, ...extra };
  for (const [k, v] of Object.entries(external)) if (!(k in labels)) labels[k] = v;
  const expand = (t: string) => t.replace(/\{\{ \$value \}\}/g, String(value)).replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? "");
  const annotations = Object.fromEntries(Object.entries(rule.annotations as Record<string, string>).map(([k, v]) => [k, expand(v)]));
  return { labels, annotations, startsAt: new Date().toISOString(), generatorURL: "http://127.0.0.1:3100/explore" };
}

/** A firing SLO page of `service` with the labels the generated rule gives it. */
function sloPage(cfg: StackConfig, service: string): Doc {
  const slo = buildSloModels(cfg).slos.find((m) => m.service === service && m.alerts.some((a) => a.labels.severity === "page"))!;
  const a = slo.alerts.find((x) => x.labels.severity === "page")!;
  return { labels: { ...a.labels, alertname: a.alert, environment: cfg.environment, stack: cfg.stack }, annotations: { summary: "test" }, startsAt: new Date().toISOString() };
}

describe("log alerts on the real Alertmanager: routing, inhibition, silences", function () {
  this.timeout(60_000);
  const cfg = routingConfig();
  const files = renderHostFiles(cfg, placeholderBundleContext(cfg.stack));
  let tmp: { dir: string; cleanup(): void };
  let webhook: WebhookReceiver;
  let am: Daemon | undefined;

  before(async function () {
    requireTool(this, ALERTMANAGER_BIN);
    tmp = tempDir("log-routing-");
    webhook = new WebhookReceiver();
    await webhook.start();
    const ports = { prometheus: await freePort(), alertmanager: await freePort(), app: await freePort() };
    const sandbox = sandboxRewrite(cfg, files, {
      root: tmp.dir,
      ports,
      appJob: "otelcol-apps",
      receiverUrls: Object.fromEntries(cfg.alerting.receivers.map((r) => [r.name, webhook.url(r.name)])),
      timing: TEST_TIMING,
    });
    for (const f of sandbox.files) {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      fs.writeFileSync(f.path, f.content, { mode: 0o600 });
    }
    am = await startDaemon({ name: "alertmanager", cmd: ALERTMANAGER_BIN, args: sandbox.alertmanager.args, port: ports.alertmanager });
  });

  after(async function () {
    this.timeout(20_000);
    await stopDaemons([am]);
    await webhook?.close();
    tmp?.cleanup();
  });

  const post = async (alerts: Doc[]) => {
    const res = await fetch(`${am!.base}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts), signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200, await res.text());
  };
  const state = async (labels: Record<string, string>) =>
    waitFor(`alert ${JSON.stringify(labels)} in Alertmanager`, 10_000, async () => {
      const all = (await (await fetch(`${am!.base}/api/v2/alerts`, { signal: AbortSignal.timeout(5_000) })).json()) as Doc[];
      return all.find((a) => Object.entries(labels).every(([k, v]) => a.labels[k] === v));
    });
  /** Receivers that got a notification with an alert carrying `labels`, after `since`. */
  const receiversOf = (labels: Record<string, string>, since: number) =>
    webhook.received
      .filter((r) => r.at >= since)
      .filter((r) => JSON.stringify(r.body).includes(`"log_alert":"${labels.log_alert}"`) || JSON.stringify(r.body).includes(`log_alert=${labels.log_alert}`))
      .map((r) => r.receiver);

  it("a host service's log alert (ticket) reaches the ticket receiver only, with the ruler's labels and the runbook", async () => {
    const since = Date.now();
    const alert = lokiAlert(files, "loki-log-errors", 42);
    assert.equal(alert.labels.alertname, HOST_LOG_ALERT);
    assert.equal(alert.labels.environment, "dev", "the ruler's external labels");
    await post([alert]);
    const got = await webhook.waitFor("the loki log alert at tickets", 15_000, (r) => r.receiver === "tickets" && JSON.stringify(r.body).includes("log_alert=loki-log-errors"), since);
    const text = JSON.stringify(got.body);
    // The rule's runbook_url (below runbookBaseUrl, or the host Grafana's runbook dashboard when it is unset).
    assert.ok(alert.annotations.runbook_url, "the rule links a runbook");
    assert.ok(text.includes(alert.annotations.runbook_url), `runbook_url ${alert.annotations.runbook_url} in the message: ${text}`);
    assert.match(text, /wrote 42 error-level lines/, "the description with the value");
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual([...new Set(receiversOf(alert.labels, since))], ["tickets"]);
  });

  it("a page-severity log alert reaches the pager", async () => {
    const since = Date.now();
    const alert = lokiAlert(files, "appointments-db-down", 3);
    assert.equal(alert.labels.severity, "page");
    assert.equal(alert.labels.team, "appointments", "routing labels travel with the alert");
    await post([alert]);
    await webhook.waitFor("the page at the pager", 15_000, (r) => r.receiver === "pager" && JSON.stringify(r.body).includes('"log_alert":"appointments-db-down"'), since);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual([...new Set(receiversOf(alert.labels, since))], ["pager"]);
  });

  it("an SLO page of the same service inhibits the application's log alerts, not another service's", async () => {
    const page = sloPage(cfg, "appointments-api");
    await post([page]);
    await state({ alertname: page.labels.alertname, slo: page.labels.slo });
    const since = Date.now();
    const app = lokiAlert(files, "appointments-api-log-errors", 25);
    assert.equal(app.labels.alertname, APPLICATION_LOG_ALERT);
    // Another service's log alert, posted with the same labels but its own service: not inhibited.
    const other = lokiAlert(files, "tempo-log-errors", 12);
    await post([app, other]);
    const a = await state({ log_alert: "appointments-api-log-errors" });
    assert.ok((a.status.inhibitedBy as string[]).length > 0, `inhibited by the SLO page: ${JSON.stringify(a.status)}`);
    const o = await state({ log_alert: "tempo-log-errors" });
    assert.deepEqual(o.status.inhibitedBy, []);
    await webhook.waitFor("the tempo log alert", 15_000, (r) => r.receiver === "tickets" && JSON.stringify(r.body).includes("log_alert=tempo-log-errors"), since);
    assert.deepEqual(receiversOf(app.labels, since), [], "the inhibited alert was not sent");
  });

  it("MonitoringTargetDown of a host service inhibits that service's log alert", async () => {
    const down = { labels: { alertname: "MonitoringTargetDown", severity: "page", job: "grafana", environment: "dev", stack: "dev" }, annotations: { summary: "x" }, startsAt: new Date().toISOString() };
    await post([down]);
    await state({ alertname: "MonitoringTargetDown", job: "grafana" });
    await post([lokiAlert(files, "grafana-log-errors", 30)]);
    const a = await state({ log_alert: "grafana-log-errors" });
    assert.ok((a.status.inhibitedBy as string[]).length > 0, JSON.stringify(a.status));
  });

  it("the runbook's amtool silence silences a log alert", async function () {
    requireTool(this, "amtool");
    const r = run("amtool", [
      `--alertmanager.url=${am!.base}`,
      "silence",
      "add",
      `alertname=${HOST_LOG_ALERT}`,
      "service=otelcol",
      "--duration=1h",
      "--author=test",
      "--comment=log alert routing test",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const since = Date.now();
    await post([lokiAlert(files, "otelcol-log-errors", 15), lokiAlert(files, "prometheus-log-errors", 15)]);
    const a = await state({ log_alert: "otelcol-log-errors" });
    assert.equal(a.status.state, "suppressed");
    assert.ok((a.status.silencedBy as string[]).length > 0, JSON.stringify(a.status));
    // The other one (not matched by the silence) still goes out, proving the delay was long enough.
    await webhook.waitFor("the prometheus log alert", 15_000, (x) => x.receiver === "tickets" && JSON.stringify(x.body).includes("log_alert=prometheus-log-errors"), since);
    assert.deepEqual(receiversOf({ log_alert: "otelcol-log-errors" }, since), []);
  });
});
