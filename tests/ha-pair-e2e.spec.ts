/**
 * The HA pair's alerting on real binaries (Prometheus 2.42 and Alertmanager 0.25 here), all on 127.0.0.1: each
 * host's files rendered with its pair context (hostfiles: `BundleContext.pair`) run two Prometheus and two clustered
 * Alertmanagers (sandbox changes: tests/integration/sandbox.ts `pairSandboxRewrite`). Both Prometheus scrape the
 * same application and send to both Alertmanagers; a local Prometheus with the remote-write receiver stands in for
 * AMP. Shown: one notification per alert while both are up; the page still arrives with one Alertmanager killed;
 * and with one Prometheus killed; AMP's stand-in receives both replicas' samples, told apart by `__replica__`.
 *
 * The three outage scenarios are independent, so each runs on its OWN pair (its own application, webhook receiver,
 * two Prometheus, two Alertmanagers and AMP stand-in, on free loopback ports and in its own temp dir), all three at
 * once: the spec takes one outage's time (the page's `for`, the duplicate window, the recovery) instead of three.
 * Each pair starts from a formed cluster; the scenario then breaks what it is about.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderBundleContext, HostFile } from "../layout/host-file";
import { buildSloModels } from "../rules/slo-model";
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

const cfg = stackConfig("dev", { remoteWrite: { workspace: "ws-b226cc2a-a446-46a9-933a-ac50479a5568" } });
const svc = buildSloModels(cfg).services.find((s) => s.alert)!;
const alertname = svc.alert!.alert;
/** Each host's files, rendered once with its pair context (pure: every pair below runs the same files). */
const files = [0, 1].map((i) => renderHostFiles(cfg, { ...placeholderBundleContext(cfg.stack), pair: { index: i, selfIp: IPS[i], peerIp: IPS[1 - i] } })) as [HostFile[], HostFile[]];

/**
 * One HA pair on loopback: the application both Prometheus scrape, the webhook receiver standing in for Slack, two
 * Prometheus and two clustered Alertmanagers (files through `pairSandboxRewrite`), and a bare Prometheus accepting
 * remote write as AMP's stand-in. Its own ports and temp dir: several run side by side.
 */
class Pair {
  readonly app: SyntheticApp;
  readonly webhook = new WebhookReceiver();
  readonly tmp = tempDir("ha-pair-e2e-");
  readonly prom: (Daemon | undefined)[] = [undefined, undefined];
  readonly am: (Daemon | undefined)[] = [undefined, undefined];
  receiver?: Daemon;
  private sandboxes!: [Sandbox, Sandbox];

  constructor(readonly name: string) {
    const latency = cfg.slos.find((s) => s.service === svc.service && s.kind === "latency");
    const route = cfg.slos.find((s) => s.service === svc.service && s.selector.route);
    this.app = new SyntheticApp({ service: svc.service, route: route?.selector.route ?? "/", method: route?.selector.method ?? "GET", buckets: latency?.buckets ?? [0.1, 0.4, 1] });
  }

  async start(): Promise<void> {
    await this.webhook.start();
    await this.app.start(0);
    const ports = {
      prometheus: [await freePort(), await freePort()] as [number, number],
      alertmanager: [await freePort(), await freePort()] as [number, number],
      cluster: [await freePort(), await freePort()] as [number, number],
      app: this.app.port,
      receiver: await freePort(),
    };
    const receiverUrls = Object.fromEntries(cfg.alerting.receivers.map((r) => [r.name, this.webhook.url(r.name)]));
    this.sandboxes = pairSandboxRewrite(cfg, files, IPS, { root: this.tmp.dir, ports, appJob: applicationJob(cfg, svc.service), receiverUrls, timing: TEST_TIMING });
    for (const sb of this.sandboxes) {
      for (const f of sb.files) {
        fs.mkdirSync(path.dirname(f.path), { recursive: true });
        fs.writeFileSync(f.path, f.content, { mode: 0o600 });
      }
    }
    // AMP's stand-in: a bare Prometheus that accepts remote write.
    const recvDir = path.join(this.tmp.dir, "receiver");
    fs.mkdirSync(recvDir, { recursive: true });
    fs.writeFileSync(path.join(recvDir, "prometheus.yml"), "global: {}\n");
    this.receiver = await startDaemon({
      name: `${this.name}: remote-write-receiver`,
      cmd: PROMETHEUS_BIN,
      args: [`--config.file=${recvDir}/prometheus.yml`, `--storage.tsdb.path=${recvDir}/data`, `--web.listen-address=127.0.0.1:${ports.receiver}`, "--web.enable-remote-write-receiver"],
      port: ports.receiver,
      readyTimeoutMs: 60_000,
    });
    await this.startAm(0);
    await this.startAm(1);
    await this.startProm(0);
    await this.startProm(1);
  }

  async close(): Promise<void> {
    await stopDaemons([...this.prom, ...this.am, this.receiver]);
    await this.app.stop();
    await this.webhook.close();
    this.tmp.cleanup();
  }

  async startProm(i: number): Promise<Daemon> {
    const sb = this.sandboxes[i];
    return (this.prom[i] = await startDaemon({ name: `${this.name}: prometheus-${i}`, cmd: PROMETHEUS_BIN, args: sb.prometheus.args, port: sb.plan.ports.prometheus, readyTimeoutMs: 60_000 }));
  }

  async startAm(i: number): Promise<Daemon> {
    const sb = this.sandboxes[i];
    return (this.am[i] = await startDaemon({ name: `${this.name}: alertmanager-${i}`, cmd: ALERTMANAGER_BIN, args: sb.alertmanager.args, port: sb.plan.ports.alertmanager }));
  }

  /** Both Prometheus send to both Alertmanagers, which form one cluster (as queried from Alertmanager `via`). */
  async formed(timeoutMs: number, via = 0): Promise<any> {
    for (const i of [0, 1]) {
      await waitFor(`${this.name}: prometheus-${i} to know both Alertmanagers`, timeoutMs, async () =>
        (await getJson(`${this.prom[i]!.base}/api/v1/alertmanagers`)).data.activeAlertmanagers.length === 2 ? true : undefined,
      );
    }
    return waitFor(`${this.name}: the Alertmanager cluster to form`, timeoutMs, async () => {
      const s = await getJson(`${this.am[via]!.base}/api/v2/status`);
      return s.cluster?.peers?.length === 2 && s.cluster.status === "ready" ? s : undefined;
    });
  }

  pages(status: "FIRING" | "RESOLVED", since: number): Received[] {
    return this.webhook.received.filter((r: Received) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === status);
  }

  /** Application down → exactly one firing notification (with one alert) while it stays down; back → resolved. */
  async oneNotificationPerOutage(what: string): Promise<void> {
    const since = Date.now();
    await this.app.stop();
    let firing: Received[];
    try {
      await this.webhook.waitFor(`${alertname} (${what})`, 180_000, (r) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === "FIRING");
      await sleep(DUPLICATE_WINDOW_MS);
      firing = this.pages("FIRING", since);
    } finally {
      // The application comes back whatever happened here: the resolution is part of the scenario.
      if (this.app.mode === "stopped") await this.app.start();
    }
    assert.equal(firing.length, 1, `${what}: ${firing.length} firing notifications for one outage`);
    assert.equal(alertsIn(firing[0]), 1, `${what}: the two replicas' alerts must be one alert`);
    await this.webhook.waitFor(`${alertname} resolved (${what})`, 120_000, (r) => r.at >= since && slackMessage(r)?.alertname === alertname && slackMessage(r)?.status === "RESOLVED");
    // The resolution is announced; it may come twice: the two replicas see the application back one evaluation
    // apart, and with TEST_TIMING's 1s group_interval Alertmanager reports each change (production: 5m).
    const sequence = this.webhook.received.filter((r) => r.at >= since && slackMessage(r)?.alertname === alertname).map((r) => `${new Date(r.at).toISOString()} ${slackMessage(r)!.title}`);
    console.log(`      ${what}: ${sequence.join(" | ")}`);
    assert.ok(this.pages("RESOLVED", since).length >= 1);
  }
}

const alertsIn = (r: Received) => Number(/^\[(?:FIRING|RESOLVED):(\d+)\]/.exec(slackMessage(r)!.title)?.[1] ?? 1);

/** Starts `scenario` now; the returned promise is awaited by its test (a failure is reported there, never unhandled). */
function started(scenario: () => Promise<void>): Promise<void> {
  const p = scenario();
  p.catch(() => undefined);
  return p;
}

describe("HA pair on real binaries (loopback)", function () {
  this.timeout(15 * 60_000);
  /** One pair per scenario: both up (also the pair the wiring tests look at), one Alertmanager killed, one Prometheus killed. */
  const pairs = { bothUp: new Pair("both up"), amKilled: new Pair("alertmanager-0 killed"), promKilled: new Pair("prometheus-0 killed") };
  const main = pairs.bothUp;
  let scenarios: Record<keyof typeof pairs, Promise<void>>;

  before(async function () {
    requireTool(this, PROMETHEUS_BIN);
    requireTool(this, ALERTMANAGER_BIN);
    await Promise.all(Object.values(pairs).map((p) => p.start()));
    scenarios = {
      bothUp: started(async () => {
        await main.formed(90_000);
        await main.oneNotificationPerOutage(main.name);
      }),
      amKilled: started(async () => {
        const p = pairs.amKilled;
        await p.formed(90_000);
        await p.am[0]!.stop("SIGKILL");
        await p.oneNotificationPerOutage(p.name);
        // Back: the killed Alertmanager rejoins its peer.
        await p.startAm(0);
        await waitFor(`${p.name}: the Alertmanager cluster to re-form`, 60_000, async () => {
          const s = await getJson(`${p.am[1]!.base}/api/v2/status`);
          return s.cluster?.peers?.length === 2 ? true : undefined;
        });
      }),
      promKilled: started(async () => {
        const p = pairs.promKilled;
        await p.formed(90_000);
        await p.prom[0]!.stop("SIGKILL");
        await p.oneNotificationPerOutage(p.name);
      }),
    };
  });

  after(async () => {
    // Whatever a scenario still does (a failed test does not stop its promise), it ends before its pair is closed.
    if (scenarios) await Promise.allSettled(Object.values(scenarios));
    await Promise.all(Object.values(pairs).map((p) => p.close()));
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
    const status = await main.formed(90_000);
    assert.equal(status.cluster.peers.length, 2);
  });

  it("sends both replicas' samples to the stand-in for AMP, told apart by __replica__ and grouped by cluster", async () => {
    const q = `count by (__replica__, cluster) (up{job="prometheus"})`;
    const result = await waitFor("both replicas' samples at the receiver", 90_000, async () => {
      const r = (await getJson(`${main.receiver!.base}/api/v1/query?${new URLSearchParams({ query: q })}`)).data.result as any[];
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(result.map((r) => r.metric.__replica__).sort(), ["0", "1"]);
    assert.ok(result.every((r) => r.metric.cluster === `monitoring-hosts-${cfg.stack}`));
  });

  it("one notification per outage while both Alertmanagers and both Prometheus run", () => scenarios.bothUp);

  it("the page still arrives (once) with one Alertmanager killed, and the Alertmanager rejoins its peer when back", () => scenarios.amKilled);

  it("the alert is still evaluated and sent (once) with one Prometheus killed", () => scenarios.promKilled);
});
