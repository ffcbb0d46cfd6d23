/**
 * `npm run bench:notify`: how long it takes from "the application stops" to "the app-down page reaches the
 * receiver", measured on real Prometheus and Alertmanager running the files rendered for the dev stack
 * (tests/integration: the same sandbox as tests/alerting-e2e.spec.ts), next to the floor computed from the config:
 * scrape interval + evaluation interval + the rule's `for` + Alertmanager's group_wait.
 *
 * Usage: npm run bench:notify [-- --runs N] [--production-timing]
 *   --runs N               stop/restart the application N times (default 1; about 65 s each with test timing)
 *   --production-timing    run the rendered intervals unchanged (15s/15s/30s: about 2.5 min per run) instead of
 *                          TEST_TIMING (1s/1s/1s)
 */
import * as YAML from "yaml";
import { SERVICES } from "../layout/host-layout";
import { AlertingSandbox } from "../tests/integration/alerting-sandbox";
import { notificationFloorSeconds, renderedTiming, seconds, TEST_TIMING, Timing } from "../tests/integration/sandbox";
import { Received, slackMessage } from "../tests/integration/webhook-receiver";
import { hasTool } from "../tests/support/validators";
import { waitFor } from "../tests/support/daemons";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(arg("--runs") ?? process.env.BENCH_RUNS ?? 1);
const production = process.argv.includes("--production-timing");

async function main(): Promise<void> {
  for (const tool of ["prometheus", "prometheus-alertmanager"]) {
    if (!hasTool(tool)) throw new Error(`${tool} is not installed (apt-get install -y prometheus prometheus-alertmanager)`);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, got ${arg("--runs")}`);
  const started = Date.now();
  const sb = await AlertingSandbox.start({ stack: "dev", timing: production ? null : TEST_TIMING });
  const stop = async () => {
    await sb.close();
  };
  process.once("SIGINT", () => void stop().finally(() => process.exit(130)));
  try {
    const timing: Timing = production ? renderedTiming(sb.sandbox) : TEST_TIMING;
    const alert = sb.sut.serviceDown;
    const floor = notificationFloorSeconds(timing, alert.for);
    const prodFloor = notificationFloorSeconds(renderedTiming(sb.sandbox), alert.for);
    const scrape = seconds(timing.scrapeInterval) * 1000;
    const isPage = (status: string) => (r: Received) => {
      const m = slackMessage(r);
      return m?.alertname === alert.alert && m.status === status;
    };

    console.log(`bench:notify — dev stack, real prometheus + prometheus-alertmanager on 127.0.0.1, ${production ? "PRODUCTION timing (as rendered)" : "TEST_TIMING"}`);
    console.log(`  alert ${alert.alert} (for ${alert.for}), receiver: loopback stand-in for Slack`);
    const latencies: number[] = [];
    for (let i = 1; i <= runs; i++) {
      // Healthy first: Prometheus has found Alertmanager, scrapes the application and sees no page pending.
      await waitFor("Prometheus to know the Alertmanager", 30_000, async () => ((await sb.activeAlertmanagers()).length ? true : undefined));
      await waitFor("the application to be scraped", 60_000 + 3 * scrape, async () =>
        (await sb.query(`target_info{job="${sb.sut.service}"}`)).length ? true : undefined,
      );
      await waitFor(`${alert.alert} to be inactive`, 120_000, async () =>
        (await sb.promAlerts()).some((a) => a.labels.alertname === alert.alert) ? undefined : true,
      );
      await new Promise((r) => setTimeout(r, 2 * scrape));

      const stoppedAt = await sb.app.stop();
      const page = await sb.webhook.waitFor(`the ${alert.alert} page`, (floor + 60) * 1000, isPage("FIRING"), stoppedAt);
      const latency = (page.at - stoppedAt) / 1000;
      latencies.push(latency);
      console.log(`  run ${i}: app stopped → page at the receiver ${latency.toFixed(1)} s   (floor ${floor} s, ${latency >= floor ? "+" : ""}${(latency - floor).toFixed(1)} s)`);
      if (i < runs) {
        const back = Date.now();
        await sb.app.start();
        await sb.webhook.waitFor(`the ${alert.alert} resolved notification`, (floor + 60) * 1000 + 300_000, isPage("RESOLVED"), back);
      }
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const otel = YAML.parse(sb.rendered.find((f) => f.path === SERVICES.otelcol.config)!.content);
    const expiration = otel?.exporters?.prometheus?.metric_expiration as string | undefined;
    console.log("");
    console.log(`  measured (median of ${runs}): ${median.toFixed(1)} s`);
    console.log(
      `  floor from the config used: ${floor} s = scrape ${timing.scrapeInterval} + evaluation ${timing.evaluationInterval} + for ${alert.for} + group_wait ${timing.groupWait}`,
    );
    console.log(
      "  (the floor adds each interval in full; a run can beat it by up to one scrape + one evaluation interval when the\n" +
        "   application stops just before a scrape, and exceed it by up to one evaluation interval plus delivery)",
    );
    const t = renderedTiming(sb.sandbox);
    console.log(`  production floor (rendered): ${prodFloor} s = scrape ${t.scrapeInterval} + evaluation ${t.evaluationInterval} + for ${alert.for} + group_wait ${t.groupWait}`);
    if (sb.sandbox.plan.appJob === "otelcol-apps" && expiration) {
      console.log(
        `  on a dev host the application's series come through the collector, which keeps them for metric_expiration ` +
          `(${expiration}) after the application goes silent: app-down page floor there = ${expiration} + ${prodFloor} s = ${seconds(expiration) + prodFloor} s`,
      );
    }
    console.log(`  wall time ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
