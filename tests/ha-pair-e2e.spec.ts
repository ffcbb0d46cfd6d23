/**
 * The HA pair's alerting on real binaries (Prometheus 2.42 and Alertmanager 0.25 here), all on 127.0.0.1: each
 * host's files rendered with its pair context (hostfiles: `HostContext.pair`) run two Prometheus and two clustered
 * Alertmanagers (sandbox changes: tests/integration/sandbox.ts `pairSandboxRewrite`). Both Prometheus scrape the
 * same application and send to both Alertmanagers; a local Prometheus with the remote-write receiver stands in for
 * AMP. Shown: one notification per alert while both are up; the page still arrives with one Alertmanager killed;
 * and with one Prometheus killed; AMP's stand-in receives both replicas' samples, told apart by `__replica__`.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderContext, HostFile } from "../layout/host-file";
import { buildSloModels } from "../rules/slo-rules";
import { ALERTMANAGER_BIN, PROMETHEUS_BIN } from "./integration/alerting-sandbox";
import { applicationJob, pairSandboxRewrite, Sandbox, TEST_TIMING } from "./integration/sandbox";
import { SyntheticApp } from "./integration/synthetic-app";
import { Received, slackMessage, WebhookReceiver } from "./integration/webhook-receiver";
import { Daemon, freePort, sleep, startDaemon, stopDaemons, waitFor } from "./support/daemons";
import { stackConfig } from "./support/stacks";
import { requireTool, tempDir } from "./support/validators";

// Placeholder private IPs of the two hosts (only the sandbox's loopback ports are ever used).
const IPS: [string, string] = ["10.0.1.10", "10.0.2.10"];
/** Alertmanager's default --cluster.peer-timeout (15s) per position, plus margin: a duplicate would have come by then. */
const DUPLICATE_WINDOW_MS = 25_000;

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.json();
}

describe("HA pair on real binaries (loopback)", function () {
  this.timeout(15 * 60_000);
  const cfg = stackConfig("dev", { remoteWrite: { workspace: "ws-b226cc2a-a446-46a9-933a-ac50479a5568" } });
  const svc = buildSloModels(cfg).services.find((s) => s.alert)!;
  const alertname = svc.alert!.alert;
  const latency = cfg.slos.find((s) => s.service === svc.service && s.kind === "latency");
  const route = cfg.slos.find((s) => s.service === svc.service && s.selector.route);
  const app = new SyntheticApp({ service: svc.service, route: route?.selector.route ?? "/", method: route?.selector.method ?? "GET", buckets: latency?.buckets ?? [0.1, 0.4, 1] });
  const webhook = new WebhookReceiver();
  const tmp = tempDir("ha-pair-e2e-");
  let sandboxes: [Sandbox, Sandbox];
  const prom: (Daemon | undefined)[] = [undefined, undefined];
  const am: (Daemon | undefined)[] = [undefined, undefined];
  let receiver: Daemon | undefined;
  let files: [HostFile[], HostFile[]];

  const startProm = async (i: number) =>
    (prom[i] = await startDaemon({ name: `prometheus-${i}`, cmd: PROMETHEUS_BIN, args: sandboxes[i].prometheus.args, port: sandboxes[i].plan.ports.prometheus, readyTimeoutMs: 60_000 }));
  const startAm = async (i: number) =>
    (am[i] = await startDaemon({ name: `alertmanager-${i}`, cmd: ALERTMANAGER_BIN, args: sandboxes[i].alertmanager.args, port: sandboxes[i].plan.ports.alertmanager }));
  const pages = (status: "FIRING" | "RESOLVED", since: number) =>
    webhook.received.filter((r: Received) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === status);
  const alertsIn = (r: Received) => Number(/^\[(?:FIRING|RESOLVED):(\d+)\]/.exec(slackMessage(r)!.title)?.[1] ?? 1);

  /** Application down → exactly one firing notification (with one alert) while it stays down; back → resolved. */
  async function oneNotificationPerOutage(what: string): Promise<void> {
    const since = Date.now();
    await app.stop();
    let firing: Received[];
    try {
      await webhook.waitFor(`${alertname} (${what})`, 180_000, (r) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === "FIRING");
      await sleep(DUPLICATE_WINDOW_MS);
      firing = pages("FIRING", since);
    } finally {
      // The next scenario needs the application up and the alert resolved, whatever happened here.
      if (app.mode === "stopped") await app.start();
    }
    assert.equal(firing.length, 1, `${what}: ${firing.length} firing notifications for one outage`);
    assert.equal(alertsIn(firing[0]), 1, `${what}: the two replicas' alerts must be one alert`);
    await webhook.waitFor(`${alertname} resolved (${what})`, 120_000, (r) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === "RESOLVED");
    await sleep(DUPLICATE_WINDOW_MS);
    // The resolution is announced; it may come twice: the two replicas see the application back one evaluation
    // apart, and with TEST_TIMING's 1s group_interval Alertmanager reports each change (production: 5m).
    const sequence = webhook.received.filter((r) => r.at >= since && slackMessage(r)?.alertname === alertname).map((r) => `${new Date(r.at).toISOString()} ${slackMessage(r)!.title}`);
    console.log(`      ${what}: ${sequence.join(" | ")}`);
    assert.ok(pages("RESOLVED", since).length >= 1);
  }

  before(async function () {
    requireTool(this, PROMETHEUS_BIN);
    requireTool(this, ALERTMANAGER_BIN);
    files = [0, 1].map((i) => renderHostFiles(cfg, { ...placeholderContext(cfg.stack), pair: { index: i, selfIp: IPS[i], peerIp: IPS[1 - i] } })) as [HostFile[], HostFile[]];
    await webhook.start();
    await app.start(0);
    const ports = {
      prometheus: [await freePort(), await freePort()] as [number, number],
      alertmanager: [await freePort(), await freePort()] as [number, number],
      cluster: [await freePort(), await freePort()] as [number, number],
      app: app.port,
      receiver: await freePort(),
    };
    const receiverUrls = Object.fromEntries(cfg.alerting.receivers.map((r) => [r.name, webhook.url(r.name)]));
    sandboxes = pairSandboxRewrite(cfg, files, IPS, { root: tmp.dir, ports, appJob: applicationJob(cfg, svc.service), receiverUrls, timing: TEST_TIMING });
    for (const sb of sandboxes) {
      for (const f of sb.files) {
        fs.mkdirSync(path.dirname(f.path), { recursive: true });
        fs.writeFileSync(f.path, f.content, { mode: 0o600 });
      }
    }
    // AMP's stand-in: a bare Prometheus that accepts remote write.
    const recvDir = path.join(tmp.dir, "receiver");
    fs.mkdirSync(recvDir, { recursive: true });
    fs.writeFileSync(path.join(recvDir, "prometheus.yml"), "global: {}\n");
    receiver = await startDaemon({
      name: "remote-write-receiver",
      cmd: PROMETHEUS_BIN,
      args: [`--config.file=${recvDir}/prometheus.yml`, `--storage.tsdb.path=${recvDir}/data`, `--web.listen-address=127.0.0.1:${ports.receiver}`, "--web.enable-remote-write-receiver"],
      port: ports.receiver,
      readyTimeoutMs: 60_000,
    });
    await startAm(0);
    await startAm(1);
    await startProm(0);
    await startProm(1);
  });

  after(async () => {
    await stopDaemons([...prom, ...am, receiver]);
    await app.stop();
    await webhook.close();
    tmp.cleanup();
  });

  it("renders each host's Prometheus to both Alertmanagers and its Alertmanager to gossip with the other, nothing else between them", () => {
    for (const i of [0, 1]) {
      const doc = YAML.parse(files[i].find((f) => f.path.endsWith("/prometheus.yml"))!.content);
      assert.deepEqual(doc.alerting.alertmanagers[0].static_configs[0].targets, ["127.0.0.1:9093", `${IPS[1 - i]}:9093`]);
      assert.equal(doc.global.external_labels.__replica__, String(i));
      assert.deepEqual(doc.alerting.alert_relabel_configs, [{ action: "labeldrop", regex: "__replica__" }]);
      const amUnit = files[i].find((f) => f.path.endsWith("/alertmanager.service"))!.content;
      assert.match(amUnit, new RegExp(`--cluster.listen-address=${IPS[i]}:9094`));
      assert.match(amUnit, new RegExp(`--cluster.peer=${IPS[1 - i]}:9094`));
    }
  });

  it("runs the pair: both Prometheus know both Alertmanagers, which form one cluster", async () => {
    for (const i of [0, 1]) {
      await waitFor(`prometheus-${i} to know both Alertmanagers`, 60_000, async () =>
        (await getJson(`${prom[i]!.base}/api/v1/alertmanagers`)).data.activeAlertmanagers.length === 2 ? true : undefined,
      );
    }
    const status = await waitFor("the Alertmanager cluster to form", 90_000, async () => {
      const s = await getJson(`${am[0]!.base}/api/v2/status`);
      return s.cluster?.peers?.length === 2 && s.cluster.status === "ready" ? s : undefined;
    });
    assert.equal(status.cluster.peers.length, 2);
  });

  it("sends both replicas' samples to the stand-in for AMP, told apart by __replica__ and grouped by cluster", async () => {
    const q = `count by (__replica__, cluster) (up{job="prometheus"})`;
    const result = await waitFor("both replicas' samples at the receiver", 90_000, async () => {
      const r = (await getJson(`${receiver!.base}/api/v1/query?${new URLSearchParams({ query: q })}`)).data.result as any[];
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(result.map((r) => r.metric.__replica__).sort(), ["0", "1"]);
    assert.ok(result.every((r) => r.metric.cluster === `monitoring-hosts-${cfg.stack}`));
  });

  it("one notification per outage while both Alertmanagers and both Prometheus run", async () => {
    await oneNotificationPerOutage("both up");
  });

  it("the page still arrives (once) with one Alertmanager killed", async () => {
    await am[0]!.stop("SIGKILL");
    await oneNotificationPerOutage("alertmanager-0 killed");
  });

  it("the alert is still evaluated and sent (once) with one Prometheus killed", async () => {
    await startAm(0);
    await waitFor("the Alertmanager cluster to re-form", 60_000, async () => {
      const s = await getJson(`${am[1]!.base}/api/v2/status`);
      return s.cluster?.peers?.length === 2 ? true : undefined;
    });
    await prom[0]!.stop("SIGKILL");
    await oneNotificationPerOutage("prometheus-0 killed");
  });
});
