/**
 * The alerting path of a host, running for real on 127.0.0.1: Prometheus and Alertmanager started with the files
 * and flags rendered for a stack (through `sandboxRewrite`, the one place that changes anything), a synthetic
 * application exposing the metric contract, and a webhook receiver standing in for Slack.
 *
 * Used by tests/alerting-e2e.spec.ts and scripts/bench-notify.ts. `close()` stops everything and removes the temp
 * directory; `startAlertingSandbox` cleans up by itself when starting fails half-way.
 */
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../../config/stack-config";
import { renderHostFiles } from "../../hostfiles/host-files";
import { HostFile, placeholderBundleContext } from "../../layout/host-file";
import { buildSloModels, type AlertModel } from "../../rules/slo-model";
import { stackConfig } from "../support/stacks";
import { Daemon, freePort, startDaemon, waitFor } from "../support/daemons";
import { tempDir } from "../support/validators";
import { applicationJob, Doc, Sandbox, sandboxRewrite, TEST_TIMING, Timing } from "./sandbox";
import { SyntheticApp } from "./synthetic-app";
import { WebhookReceiver } from "./webhook-receiver";

export const PROMETHEUS_BIN = "prometheus";
export const ALERTMANAGER_BIN = "prometheus-alertmanager";

/** What the sandbox needs of the application under test: its metrics port and a way to stop it. */
export interface SandboxApp {
  readonly port: number;
  stop(): Promise<number | void>;
}

export interface AlertingSandboxOptions<A extends SandboxApp> {
  stack?: string;
  /** A stack config to run instead of the committed `stack` (e.g. with a second service and team). */
  cfg?: StackConfig;
  /** TEST_TIMING (default) or null for the production intervals as rendered. */
  timing?: Timing | null;
  /**
   * The application under test, started by this function (it may send traces to the webhook receiver), and the
   * stack config to render for it (e.g. appScrapeTargets pointing at its port). Default: a SyntheticApp for the
   * committed stack config's SLO service.
   */
  app?: { start(webhook: WebhookReceiver): Promise<A>; config(app: A): StackConfig };
  /** Fixed loopback ports (`npm run local`); default: free ports. */
  ports?: { prometheus?: number; alertmanager?: number };
}

/** The service whose app-down page the scenarios exercise, and that page's rule as generated. */
export interface ServiceUnderTest {
  service: string;
  serviceDown: AlertModel;
}

/** The synthetic application for the stack's SLO service: its route, method and latency buckets. */
async function startSyntheticApp(cfg: StackConfig): Promise<SyntheticApp> {
  const sut = serviceUnderTest(cfg);
  const latency = cfg.slos.find((s) => s.service === sut.service && s.kind === "latency");
  const route = cfg.slos.find((s) => s.service === sut.service && s.selector.route);
  const app = new SyntheticApp({
    service: sut.service,
    route: route?.selector.route ?? "/",
    method: route?.selector.method ?? "GET",
    buckets: latency?.buckets ?? [0.1, 0.4, 1],
    // Every other service of the stack sends healthy telemetry through the same endpoint.
    others: [...new Set(cfg.slos.map((s) => s.service))]
      .filter((svc) => svc !== sut.service && applicationJob(cfg, svc) === applicationJob(cfg, sut.service))
      .map((svc) => {
        const r = cfg.slos.find((s) => s.service === svc && s.selector.route);
        const l = cfg.slos.find((s) => s.service === svc && s.kind === "latency");
        return { service: svc, route: r?.selector.route ?? "/", method: r?.selector.method ?? "GET", buckets: l?.buckets ?? [0.1, 0.4, 1] };
      }),
  });
  await app.start(0);
  return app;
}

export function serviceUnderTest(cfg: StackConfig): ServiceUnderTest {
  const svc = buildSloModels(cfg).services.find((s) => s.alert);
  if (!svc || !svc.alert) throw new Error(`stack ${cfg.stack} has no SLO service with an app-down alert`);
  return { service: svc.service, serviceDown: svc.alert };
}

async function getJson(url: string, init?: RequestInit): Promise<Doc> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${res.status} ${text.slice(0, 500)}`);
  return text ? (JSON.parse(text) as Doc) : {};
}

export class AlertingSandbox<A extends SandboxApp = SyntheticApp> {
  prometheus?: Daemon;
  alertmanager?: Daemon;

  private constructor(
    readonly cfg: StackConfig,
    readonly rendered: HostFile[],
    readonly sandbox: Sandbox,
    readonly sut: ServiceUnderTest,
    readonly app: A,
    readonly webhook: WebhookReceiver,
    private readonly tmp: { dir: string; cleanup(): void },
  ) {}

  static async start<A extends SandboxApp = SyntheticApp>(o: AlertingSandboxOptions<A> = {}): Promise<AlertingSandbox<A>> {
    const webhook = new WebhookReceiver();
    const tmp = tempDir("alerting-e2e-");
    let sb: AlertingSandbox<A> | undefined;
    let app: A | undefined;
    try {
      await webhook.start();
      let cfg: StackConfig;
      if (o.app) {
        app = await o.app.start(webhook);
        cfg = o.app.config(app);
      } else {
        cfg = o.cfg ?? stackConfig(o.stack ?? "dev");
        app = (await startSyntheticApp(cfg)) as unknown as A;
      }
      const rendered = renderHostFiles(cfg, placeholderBundleContext(cfg.stack));
      const sut = serviceUnderTest(cfg);
      const ports = { prometheus: o.ports?.prometheus ?? (await freePort()), alertmanager: o.ports?.alertmanager ?? (await freePort()), app: app.port };
      const receiverUrls = Object.fromEntries(cfg.alerting.receivers.map((r) => [r.name, webhook.url(r.name)]));
      const sandbox = sandboxRewrite(cfg, rendered, {
        root: tmp.dir,
        ports,
        appJob: applicationJob(cfg, sut.service),
        receiverUrls,
        timing: o.timing === undefined ? TEST_TIMING : o.timing,
      });
      for (const f of sandbox.files) {
        fs.mkdirSync(path.dirname(f.path), { recursive: true });
        fs.writeFileSync(f.path, f.content, { mode: 0o600 });
      }
      sb = new AlertingSandbox<A>(cfg, rendered, sandbox, sut, app, webhook, tmp);
      // Alertmanager first, as on the host: Prometheus' first alerts find it listening.
      await sb.startAlertmanager();
      await sb.startPrometheus();
      return sb;
    } catch (e) {
      if (sb) await sb.close();
      else {
        await app?.stop();
        await webhook.close();
        tmp.cleanup();
      }
      throw e;
    }
  }

  get root(): string {
    return this.tmp.dir;
  }

  async startPrometheus(): Promise<Daemon> {
    const s = this.sandbox;
    this.prometheus = await startDaemon({ name: "prometheus", cmd: PROMETHEUS_BIN, args: s.prometheus.args, port: s.plan.ports.prometheus, readyTimeoutMs: 60_000 });
    return this.prometheus;
  }

  async startAlertmanager(): Promise<Daemon> {
    const s = this.sandbox;
    this.alertmanager = await startDaemon({ name: "alertmanager", cmd: ALERTMANAGER_BIN, args: s.alertmanager.args, port: s.plan.ports.alertmanager });
    return this.alertmanager;
  }

  /** Stops Prometheus with `signal` (SIGKILL: no shutdown at all) and starts it again on the same data and port. */
  async restartPrometheus(signal: NodeJS.Signals): Promise<Daemon> {
    await this.prometheus?.stop(signal);
    return this.startPrometheus();
  }

  async restartAlertmanager(signal: NodeJS.Signals): Promise<Daemon> {
    await this.alertmanager?.stop(signal);
    return this.startAlertmanager();
  }

  private get prom(): Daemon {
    if (!this.prometheus?.running()) throw new Error("Prometheus is not running");
    return this.prometheus;
  }

  private get am(): Daemon {
    if (!this.alertmanager?.running()) throw new Error("Alertmanager is not running");
    return this.alertmanager;
  }

  // --- Prometheus HTTP API

  async query(expr: string, time?: number): Promise<Doc[]> {
    const q = new URLSearchParams({ query: expr, ...(time !== undefined ? { time: String(time) } : {}) });
    const doc = await getJson(`${this.prom.base}/api/v1/query?${q}`);
    return doc.data.result as Doc[];
  }

  /** Active alerts (pending and firing) as Prometheus sees them. */
  async promAlerts(): Promise<Doc[]> {
    return (await getJson(`${this.prom.base}/api/v1/alerts`)).data.alerts as Doc[];
  }

  /** Every loaded rule: group name, rule name, type, and for alerts the `for` duration in seconds. */
  async rules(): Promise<Doc[]> {
    const doc = await getJson(`${this.prom.base}/api/v1/rules`);
    return (doc.data.groups as Doc[]).flatMap((g) => (g.rules as Doc[]).map((r) => ({ ...r, group: g.name, file: g.file })));
  }

  /** The Alertmanagers Prometheus currently sends to (filled from discovery a few seconds after start and reload). */
  async activeAlertmanagers(): Promise<string[]> {
    const doc = await getJson(`${this.prom.base}/api/v1/alertmanagers`);
    return (doc.data.activeAlertmanagers as Doc[]).map((a) => a.url as string);
  }

  async runtimeInfo(): Promise<Doc> {
    return (await getJson(`${this.prom.base}/api/v1/status/runtimeinfo`)).data as Doc;
  }

  /**
   * Reloads Prometheus the way the host does: the units' `ExecReload=/bin/kill -HUP $MAINPID` (monitoring-apply
   * runs `systemctl try-reload-or-restart`). Waits until the reload is recorded and returns runtime info.
   */
  async reloadPrometheusWithSighup(timeoutMs = 15_000): Promise<Doc> {
    const before = await this.runtimeInfo();
    // lastConfigTime has one-second resolution: make sure the reload lands in a later second.
    await new Promise((r) => setTimeout(r, 1_100));
    this.prom.proc.kill("SIGHUP");
    return waitFor("Prometheus to record the SIGHUP reload", timeoutMs, async () => {
      const now = await this.runtimeInfo();
      return now.lastConfigTime !== before.lastConfigTime ? now : undefined;
    }, { detail: () => this.prom.output().slice(-2000) });
  }

  // --- Alertmanager HTTP API

  async amAlerts(): Promise<Doc[]> {
    return (await getJson(`${this.am.base}/api/v2/alerts`)) as unknown as Doc[];
  }

  async silences(): Promise<Doc[]> {
    return (await getJson(`${this.am.base}/api/v2/silences`)) as unknown as Doc[];
  }

  async createSilence(matchers: Record<string, string>, comment: string, hours = 1): Promise<string> {
    const now = Date.now();
    const doc = await getJson(`${this.am.base}/api/v2/silences`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        matchers: Object.entries(matchers).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + hours * 3600_000).toISOString(),
        createdBy: "alerting-e2e",
        comment,
      }),
    });
    return doc.silenceID as string;
  }

  // --- files

  /** Sandbox path of a rule file given by its host path. */
  ruleFilePath(hostPath: string): string {
    const f = this.sandbox.ruleFiles.find((x) => x.hostPath === hostPath);
    if (!f) throw new Error(`no rule file ${hostPath} in the sandbox`);
    return f.path;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    await attempt(async () => this.prometheus?.stop("SIGTERM", 10_000));
    await attempt(async () => this.alertmanager?.stop("SIGTERM", 10_000));
    await attempt(() => this.app.stop());
    await attempt(() => this.webhook.close());
    await attempt(async () => this.tmp.cleanup());
    if (errors.length) throw errors[0];
  }
}
