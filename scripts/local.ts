/**
 * `npm run local -- <stack> --app 127.0.0.1:9464 [--service <name>] [--fast] [--prometheus-port 9090]
 * [--alertmanager-port 9093]`: the monitoring host's alerting path on your machine, for application teams.
 *
 * Starts the real Prometheus and Alertmanager (Debian: apt-get install prometheus prometheus-alertmanager) on
 * 127.0.0.1 with the stack's rendered prometheus.yml, SLO rules, meta-alerts and alertmanager.yml, scraping your
 * locally running application's metrics endpoint directly (as `appScrapeTargets` configures it: run the app with
 * OTEL_METRICS_EXPORTER=prometheus, docs/connect-an-application.md). Notifications go to a receiver in this process
 * and are printed here instead of reaching Slack/PagerDuty/email. Ctrl-C stops both daemons and removes their
 * temporary directory.
 *
 *   --service   the SLO service the app is (default: the stack's first service with SLOs)
 *   --fast      1 s scrape/evaluation and group_wait (the e2e tests' TEST_TIMING) instead of the rendered 15 s/30 s;
 *               alert `for` durations stay as rendered
 *
 * Everything listens on 127.0.0.1 only; the app must be on loopback too.
 */
import { ConfigError } from "../config/config-problems";
import { StackConfig } from "../config/stack-config";
import { buildSloModels } from "../rules/slo-model";
import { AlertingSandbox, SandboxApp } from "../tests/integration/alerting-sandbox";
import { TEST_TIMING } from "../tests/integration/sandbox";
import { slackMessage } from "../tests/integration/webhook-receiver";
import { hasTool } from "../tests/support/validators";
import { renderStackConfig } from "./render";

const USAGE =
  "usage: npm run local -- <stack> --app 127.0.0.1:<metrics port> [--service <name>] [--fast] [--prometheus-port 9090] [--alertmanager-port 9093]";

class UsageError extends Error {}

function parseArgs(argv: string[]) {
  const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const valued = ["--app", "--service", "--prometheus-port", "--alertmanager-port"];
  const values = new Set(valued.map(option));
  const stack = argv.find((a) => !a.startsWith("--") && !values.has(a));
  const app = option("--app");
  if (!stack || !app) throw new UsageError(USAGE);
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost):(\d{1,5})$/.exec(app);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new UsageError(`--app ${app}: must be a loopback address and port, like 127.0.0.1:9464 (the app's metrics endpoint)`);
  const port = (name: string, dflt: number) => {
    const v = option(name);
    if (v === undefined) return dflt;
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new UsageError(`${name} ${v}: must be a port number`);
    return Number(v);
  };
  return {
    stack,
    appPort: Number(m[2]),
    service: option("--service"),
    fast: argv.includes("--fast"),
    prometheusPort: port("--prometheus-port", 9090),
    alertmanagerPort: port("--alertmanager-port", 9093),
  };
}

/**
 * The stack's config as the local loop runs it: the app scraped directly (appScrapeTargets for its service) and
 * every receiver a webhook (its notifications are printed here; names, severities and routing stay the stack's).
 */
export function localConfig(stack: string, appPort: number, service?: string): StackConfig {
  const base = renderStackConfig(stack);
  const services = buildSloModels(base).services.map((s) => s.service);
  const svc = service ?? services[0];
  if (!svc) throw new UsageError(`stack ${stack} has no SLOs: nothing to try locally (docs/slos.md)`);
  if (!services.includes(svc)) throw new UsageError(`--service ${svc}: stack ${stack} has SLOs for ${services.join(", ")} only`);
  const receivers = base.alerting.receivers.map((r) => ({ name: r.name, type: "webhook", severities: r.severities }));
  return renderStackConfig(
    stack,
    { alertReceivers: receivers, appScrapeTargets: [{ service: svc, targets: [`127.0.0.1:${appPort}`] }] },
    { alertReceiverSecrets: Object.fromEntries(receivers.map((r) => [r.name, `https://local.invalid/${r.name}`])) },
  );
}

async function main(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  let cfg: StackConfig;
  try {
    args = parseArgs(argv);
    cfg = localConfig(args.stack, args.appPort, args.service);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || (e instanceof Error && /^No stack file/.test(e.message))) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  for (const tool of ["prometheus", "prometheus-alertmanager"]) {
    if (!hasTool(tool)) {
      console.error(`${tool} is not installed (Debian/Ubuntu: apt-get install prometheus prometheus-alertmanager)`);
      return 1;
    }
  }
  const app: SandboxApp = { port: args.appPort, stop: async () => undefined };
  const sb = await AlertingSandbox.start({
    app: { start: async () => app, config: () => cfg },
    timing: args.fast ? TEST_TIMING : null,
    ports: { prometheus: args.prometheusPort, alertmanager: args.alertmanagerPort },
  });
  let shown = 0;
  const printer = setInterval(() => {
    for (const r of sb.webhook.received.slice(shown)) {
      const m = slackMessage(r);
      const labels = r.body?.alerts?.[0]?.labels ?? {};
      console.log(`${new Date(r.at).toISOString()} notification to ${r.receiver}: ${m?.status ?? r.body?.status ?? "?"} ${m?.alertname ?? labels.alertname ?? ""} ${labels.slo ? `slo=${labels.slo}` : ""}`);
    }
    shown = sb.webhook.received.length;
  }, 1000);

  const prom = `http://127.0.0.1:${args.prometheusPort}`;
  const am = `http://127.0.0.1:${args.alertmanagerPort}`;
  const svc = sb.sut.service;
  console.log(
    [
      `stack ${cfg.stack}: Prometheus ${sb.prometheus!.pid} and Alertmanager ${sb.alertmanager!.pid} running with the rendered rules (${args.fast ? "1 s intervals" : "rendered intervals"}); temp dir ${sb.root}`,
      `  app (${svc}):     scraped at http://127.0.0.1:${args.appPort}/metrics  →  ${prom}/targets`,
      `  SLO records:      ${prom}/graph?g0.expr=${encodeURIComponent(`{__name__=~"slo:.+", service="${svc}"}`)}`,
      `  alerts:           ${prom}/alerts   (rules: ${prom}/rules)`,
      `  Alertmanager:     ${am}`,
      `  notifications print below. Ctrl-C stops everything.`,
    ].join("\n"),
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(printer);
      console.log(`${signal}: stopping Prometheus and Alertmanager`);
      sb.close().then(
        () => {
          console.log("stopped; temp dir removed");
          resolve(0);
        },
        (e: unknown) => {
          console.error(`cleanup failed: ${String(e)}`);
          resolve(1);
        },
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
