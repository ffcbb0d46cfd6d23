/**
 * The ONE place where the files a monitoring host gets are changed to run in a test sandbox.
 *
 * `sandboxRewrite` takes the rendered host files and the daemons' rendered command-line flags, and returns what the
 * sandbox runs. It changes only what cannot be the same on a developer machine or CI runner:
 *
 *   prometheus.yml      rule_files glob → under the sandbox root (the rule files themselves are byte-identical)
 *                       alerting target 127.0.0.1:9093 → the sandbox Alertmanager's port
 *                       scrape targets of the `prometheus` and `alertmanager` jobs → the sandbox ports
 *                       scrape target of the application's job → the synthetic application
 *                       global scrape_interval / evaluation_interval → TEST_TIMING (unless production timing)
 *   alertmanager.yml    every receiver secret `*_file` path → a file under the sandbox root
 *                       webhook `url_file` → `url` (Alertmanager 0.25 here lacks url_file; see validators.md)
 *                       route.group_wait / route.group_interval → TEST_TIMING (unless production timing)
 *   flags               --config.file, --storage.tsdb.path / --storage.path, --web.listen-address;
 *                       Alertmanager --data.maintenance-interval → TEST_TIMING (unless production timing)
 *
 * Everything else stays as rendered; `structuralDiff` lets the tests prove it, path by path.
 *
 * The other scrape jobs (grafana, loki, tempo, otelcol, node) keep their host addresses: those services do not run
 * in the sandbox, so their targets are down, exactly as they would be on a host where they are stopped.
 */
import * as path from "path";
import * as YAML from "yaml";
import type { StackConfig } from "../../config/stack-config";
import { parseDuration } from "../../config/duration";
import { PROMETHEUS_RULES_DIR, SERVICES } from "../../layout/host-layout";
import { secretFiles } from "../../hostfiles/secrets";
import { ALERTMANAGER_SNAPSHOT_INTERVAL, alertmanagerFlags, prometheusFlags } from "../../hostfiles/services/flags";
import { ALERTMANAGER_CLUSTER_PORT } from "../../layout/host-layout";
import { STACK_JOBS } from "../../hostfiles/services/prometheus";
import type { HostFile } from "../../layout/host-file";
import { withFlags } from "../support/daemons";

/**
 * SHORT INTERVALS FOR THE TEST — the only timing the sandbox changes, stated here and nowhere else.
 *
 * Production values (layout/host-layout.ts ALERTING_TIMING) stay in the rendered files; the sandbox swaps these in so
 * the whole spec runs in about two minutes. NOT shortened: every rule's `for` (the app-down page keeps its 1m),
 * repeat intervals, resolve_timeout, the Watchdog route's own timing and the rule groups' own `interval`s.
 */
export const TEST_TIMING = {
  scrapeInterval: "1s",
  evaluationInterval: "1s",
  groupWait: "1s",
  groupInterval: "1s",
  /** Alertmanager's silence snapshot interval (production: 1m), so a SIGKILL test need not wait a minute. */
  silenceSnapshotInterval: "2s",
} as const;

export interface Timing {
  scrapeInterval: string;
  evaluationInterval: string;
  groupWait: string;
  groupInterval: string;
  silenceSnapshotInterval: string;
}

export interface SandboxPlan {
  /** Temp directory the sandbox lives in. */
  root: string;
  ports: { prometheus: number; alertmanager: number; app: number };
  /** The scrape job whose target becomes the synthetic application (see `applicationJob`). */
  appJob: string;
  /** Receiver name → the loopback URL its secret file holds (Slack `api_url`, webhook `url`). */
  receiverUrls: Record<string, string>;
  /** TEST_TIMING, or `null` to keep the production intervals (bench --production-timing). */
  timing: Timing | null;
}

export interface SandboxFile {
  /** Where it is written, under the sandbox root. */
  path: string;
  content: string;
  /** The host path it stands for (rule files, configs); absent for test-only files (secrets). */
  hostPath?: string;
}

export interface Sandbox {
  plan: SandboxPlan;
  files: SandboxFile[];
  prometheus: { configPath: string; rulesDir: string; dataDir: string; args: string[]; doc: Doc; original: Doc };
  alertmanager: { configPath: string; dataDir: string; args: string[]; doc: Doc; original: Doc };
  /** The rule files (sandbox path and host path), unchanged in content. */
  ruleFiles: SandboxFile[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Doc = Record<string, any>;

/**
 * Which scrape job carries the application's series. Services listed in appScrapeTargets are scraped directly as
 * job `<service>`; every other application pushes OTLP to the collector, whose Prometheus exporter Prometheus
 * scrapes as job `otelcol-apps` (honor_labels keeps the application's own job/instance labels). The dev stack as
 * committed has no appScrapeTargets, so its application job is `otelcol-apps`.
 */
export function applicationJob(cfg: Pick<StackConfig, "appScrapeTargets">, service: string): string {
  return cfg.appScrapeTargets.some((t) => t.service === service) ? service : STACK_JOBS.otelcolApps;
}

/** Host path → path under the sandbox root (the host tree mirrored below `root/host`). */
export function underRoot(root: string, hostPath: string): string {
  return path.join(root, "host", hostPath);
}

function hostFile(files: HostFile[], hostPath: string): HostFile {
  const f = files.find((x) => x.path === hostPath);
  if (!f) throw new Error(`no rendered file ${hostPath}`);
  return f;
}

const loopbackAddr = (port: number) => `127.0.0.1:${port}`;

function retarget(doc: Doc, job: string, port: number): void {
  const sc = (doc.scrape_configs as Doc[]).find((j) => j.job_name === job);
  if (!sc) throw new Error(`prometheus.yml has no scrape job ${job}`);
  if (sc.static_configs.length !== 1 || sc.static_configs[0].targets.length !== 1) {
    throw new Error(`scrape job ${job} has more than one target; the sandbox stands in for exactly one`);
  }
  sc.static_configs[0].targets[0] = loopbackAddr(port);
}

/** Every sandbox change, in one function. See the file comment for the list. */
export function sandboxRewrite(cfg: StackConfig, files: HostFile[], plan: SandboxPlan): Sandbox {
  const { root, ports, timing } = plan;
  const out: SandboxFile[] = [];

  // --- prometheus.yml
  const promFile = hostFile(files, SERVICES.prometheus.config);
  const promOriginal = YAML.parse(promFile.content) as Doc;
  const prom = structuredClone(promOriginal);
  if (timing) {
    prom.global.scrape_interval = timing.scrapeInterval;
    prom.global.evaluation_interval = timing.evaluationInterval;
  }
  prom.rule_files = (prom.rule_files as string[]).map((glob) => underRoot(root, glob));
  const amHostAddr = loopbackAddr(SERVICES.alertmanager.ports.http);
  for (const am of prom.alerting.alertmanagers as Doc[]) {
    for (const sc of am.static_configs as Doc[]) {
      sc.targets = (sc.targets as string[]).map((t) => (t === amHostAddr ? loopbackAddr(ports.alertmanager) : t));
    }
  }
  retarget(prom, STACK_JOBS.prometheus, ports.prometheus);
  retarget(prom, STACK_JOBS.alertmanager, ports.alertmanager);
  retarget(prom, plan.appJob, ports.app);
  const promConfigPath = underRoot(root, SERVICES.prometheus.config);
  out.push({ path: promConfigPath, content: YAML.stringify(prom), hostPath: SERVICES.prometheus.config });

  // --- rule files: unchanged, only placed under the root
  const ruleFiles = files
    .filter((f) => path.posix.dirname(f.path) === PROMETHEUS_RULES_DIR && f.path.endsWith(".yml"))
    .map((f) => ({ path: underRoot(root, f.path), content: f.content, hostPath: f.path }));
  out.push(...ruleFiles);

  // --- alertmanager.yml
  const amFile = hostFile(files, SERVICES.alertmanager.config);
  const amOriginal = YAML.parse(amFile.content) as Doc;
  const am = structuredClone(amOriginal);
  if (timing) {
    am.route.group_wait = timing.groupWait;
    am.route.group_interval = timing.groupInterval;
  }
  const secrets = secretFiles(cfg);
  for (const receiver of am.receivers as Doc[]) {
    const r = cfg.alerting.receivers.find((x) => x.name === receiver.name);
    if (!r) continue; // the discard receiver
    if (r.type !== "slack" && r.type !== "webhook") {
      // PagerDuty and email would reach out to the internet from a test: refuse rather than guess.
      throw new Error(`sandbox: receiver ${r.name} is of type ${r.type}; only slack and webhook receivers can be pointed at the loopback receiver`);
    }
    const url = plan.receiverUrls[r.name];
    if (!url) throw new Error(`sandbox: no loopback URL for receiver ${r.name}`);
    for (const [key, list] of Object.entries(receiver)) {
      if (!key.endsWith("_configs")) continue;
      for (const integration of list as Doc[]) {
        for (const [k, v] of Object.entries(integration)) {
          if (!k.endsWith("_file")) continue;
          if (!secrets.some((s) => s.path === v)) throw new Error(`sandbox: ${r.name}.${key}.${k} = ${v} is not a known secret file`);
          const secretPath = path.join(root, "secrets", `receiver-${r.name}`);
          if (key === "webhook_configs" && k === "url_file") {
            delete integration.url_file;
            integration.url = url; // 0.25 has no url_file; the URL is the secret's value
          } else {
            integration[k] = secretPath;
            if (!out.some((f) => f.path === secretPath)) out.push({ path: secretPath, content: url });
          }
        }
      }
    }
  }
  const amConfigPath = underRoot(root, SERVICES.alertmanager.config);
  out.push({ path: amConfigPath, content: YAML.stringify(am), hostPath: SERVICES.alertmanager.config });

  // --- flags
  const promDataDir = path.join(root, "data", "prometheus");
  const amDataDir = path.join(root, "data", "alertmanager");
  const promArgs = withFlags(prometheusFlags(cfg), {
    "--config.file": promConfigPath,
    "--storage.tsdb.path": promDataDir,
    "--web.listen-address": loopbackAddr(ports.prometheus),
  });
  const amArgs = withFlags(alertmanagerFlags(), {
    "--config.file": amConfigPath,
    "--storage.path": amDataDir,
    "--web.listen-address": loopbackAddr(ports.alertmanager),
    ...(plan.timing ? { "--data.maintenance-interval": plan.timing.silenceSnapshotInterval } : {}),
  });

  return {
    plan,
    files: out,
    prometheus: { configPath: promConfigPath, rulesDir: underRoot(root, PROMETHEUS_RULES_DIR), dataDir: promDataDir, args: promArgs, doc: prom, original: promOriginal },
    alertmanager: { configPath: amConfigPath, dataDir: amDataDir, args: amArgs, doc: am, original: amOriginal },
    ruleFiles,
  };
}

export interface Change {
  path: string;
  before: unknown;
  after: unknown;
}

/** Every leaf where `b` differs from `a`, as `key.sub[0].leaf` paths (missing on one side = undefined). */
export function structuralDiff(a: unknown, b: unknown, at = ""): Change[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => structuralDiff(a[i], b[i], `${at}[${i}]`)).flat();
  }
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => structuralDiff(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return Object.is(a, b) ? [] : [{ path: at, before: a, after: b }];
}

/** Seconds of a Prometheus duration (`1s`, `15s`, `1m`). */
export function seconds(d: string): number {
  const p = parseDuration(d);
  if (!p) throw new Error(`not a duration: ${d}`);
  return p.seconds;
}

/**
 * The floor of "application stops" → "page sent", from the config: one scrape interval (the failed scrape that
 * notices), one evaluation interval (the rule that sees it), the rule's `for`, and Alertmanager's group_wait.
 */
export function notificationFloorSeconds(t: Pick<Timing, "scrapeInterval" | "evaluationInterval" | "groupWait">, forDuration: string): number {
  return seconds(t.scrapeInterval) + seconds(t.evaluationInterval) + seconds(forDuration) + seconds(t.groupWait);
}

/** The timing the rendered files carry (to print the production floor next to the test's). */
export function renderedTiming(s: Sandbox): Timing {
  return {
    scrapeInterval: s.prometheus.original.global.scrape_interval,
    evaluationInterval: s.prometheus.original.global.evaluation_interval,
    groupWait: s.alertmanager.original.route.group_wait,
    groupInterval: s.alertmanager.original.route.group_interval,
    silenceSnapshotInterval: ALERTMANAGER_SNAPSHOT_INTERVAL,
  };
}

/**
 * An HA pair in the sandbox: each host's files rendered with its `pair` context go through `sandboxRewrite`, then
 * only what ties the two hosts together is moved to loopback:
 *
 *   prometheus.yml      the other host's Alertmanager (<peer ip>:9093) → that sandbox Alertmanager's port;
 *                       remote_write url (AMP) → the stand-in receiver's /api/v1/write, and `sigv4` removed (no
 *                       AWS credentials here; its keys are checked by promtool and tests/remote-write.spec.ts)
 *   alertmanager flags  the host's own (alertmanagerFlags with its pair) with sandboxRewrite's replacements;
 *                       --web.listen-address=<own ip>:9093 dropped (loopback is the sandbox port already);
 *                       --cluster.listen-address=<own ip>:9094 and --cluster.peer=<peer ip>:9094 → loopback ports
 */
export interface PairPorts {
  prometheus: [number, number];
  alertmanager: [number, number];
  cluster: [number, number];
  app: number;
  /** The remote-write receiver standing in for AMP. */
  receiver: number;
}

export function pairSandboxRewrite(
  cfg: StackConfig,
  files: [HostFile[], HostFile[]],
  ips: [string, string],
  plan: Omit<SandboxPlan, "ports" | "root"> & { root: string; ports: PairPorts },
): [Sandbox, Sandbox] {
  const { ports } = plan;
  return [0, 1].map((i) => {
    const j = 1 - i;
    const sb = sandboxRewrite(cfg, files[i], {
      ...plan,
      root: path.join(plan.root, `host-${i}`),
      ports: { prometheus: ports.prometheus[i], alertmanager: ports.alertmanager[i], app: ports.app },
    });
    const peerAm = `${ips[j]}:${SERVICES.alertmanager.ports.http}`;
    for (const am of sb.prometheus.doc.alerting.alertmanagers as Doc[]) {
      for (const sc of am.static_configs as Doc[]) sc.targets = (sc.targets as string[]).map((t) => (t === peerAm ? loopbackAddr(ports.alertmanager[j]) : t));
    }
    for (const rw of (sb.prometheus.doc.remote_write ?? []) as Doc[]) {
      rw.url = `http://${loopbackAddr(ports.receiver)}/api/v1/write`;
      delete rw.sigv4;
    }
    const promFile = sb.files.find((f) => f.hostPath === SERVICES.prometheus.config)!;
    promFile.content = YAML.stringify(sb.prometheus.doc);
    const own = `--web.listen-address=${ips[i]}:${SERVICES.alertmanager.ports.http}`;
    const clusterPort = `:${ALERTMANAGER_CLUSTER_PORT}`;
    const renderedFlags = alertmanagerFlags({ index: i, selfIp: ips[i], peerIp: ips[j] });
    if (!renderedFlags.includes(`--cluster.listen-address=${ips[i]}${clusterPort}`) || !renderedFlags.includes(`--cluster.peer=${ips[j]}${clusterPort}`)) {
      throw new Error(`sandbox: the pair's Alertmanager flags lack its cluster address or peer: ${renderedFlags.join(" ")}`);
    }
    sb.alertmanager.args = withFlags(
      renderedFlags.filter((a) => a !== own),
      {
        "--config.file": sb.alertmanager.configPath,
        "--storage.path": sb.alertmanager.dataDir,
        "--web.listen-address": loopbackAddr(ports.alertmanager[i]),
        "--cluster.listen-address": loopbackAddr(ports.cluster[i]),
        "--cluster.peer": loopbackAddr(ports.cluster[j]),
        ...(plan.timing ? { "--data.maintenance-interval": plan.timing.silenceSnapshotInterval } : {}),
      },
    );
    return sb;
  }) as [Sandbox, Sandbox];
}
