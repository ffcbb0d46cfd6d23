/**
 * The SLOs end to end with the REAL application (issue 12): examples/appointments-api (NestJS, the OpenTelemetry
 * Node SDK with the HTTP/Express/Nest/pg/pino instrumentations, node-postgres) against a real PostgreSQL cluster,
 * scraped directly by the real Prometheus 2.42 through the SDK's own Prometheus exporter, exactly as a stack with
 * `appScrapeTargets` configures it, with the rendered rules, and the real Alertmanager 0.25 paging a loopback
 * webhook receiver. Nothing here writes a metric by hand: every series is what the SDK exported.
 *
 * The stack config is dev's with two changes, both ordinary config a user could set:
 *   - appScrapeTargets: [{service: <the SLO service>, targets: ["127.0.0.1:<the app's metrics port>"]}]
 *     (so the SLO rules use `up` for the service-down alert, as for every directly scraped service);
 *   - the saturation SLO's `for` is 1m (the minimum the loader accepts) instead of 10m: its alert averages the
 *     pool's use over `for`, and a 10-minute average cannot be compressed by shorter scrape intervals.
 * Short intervals: TEST_TIMING (tests/integration/sandbox.ts). Every other rule `for` keeps its rendered value.
 *
 * The OTLP path, alongside: no collector binary exists here, so a second sandbox (the COMMITTED dev config: the app
 * reaches Prometheus through the collector, job `otelcol-apps`, target_info-based service-down) scrapes a stand-in
 * for the collector's Prometheus exporter that serves the same app's live metrics renamed by the collector's rules
 * (tests/integration/collector-naming.ts, derived from the contrib source: docs/connect-an-application.md). The
 * same phases are asserted there, except the saturation alert (its committed 10-minute average).
 *
 * Scenarios. Each application under test is one instance of the example with its own database (in ONE PostgreSQL
 * cluster), its own two sandboxes (direct and OTLP path, each a real Prometheus and Alertmanager) and its own load;
 * the independent scenarios run side by side, so the spec takes its longest scenario's time, not their sum:
 *   - the main instance: the SDK's exposition and what the rules select → healthy traffic, nothing fires → the app
 *     stopped: SloServiceDown pages;
 *   - "failing" (started with the spec, after its SLO records exist): every request failing (before the database)
 *     while the app holds every pooled connection: the availability fast page reaches the webhook, the latency SLO
 *     stays clean;
 *   - "slow-db" (likewise): pg_sleep 600 ms per request, enough clients to keep every pooled connection busy: the
 *     latency SLO's fast alert fires, and the saturation alert (a 1-minute average, then `for: 1m`: the longest).
 * About 2½ minutes; run alone with `npx mocha tests/appointments-e2e.spec.ts` (docs/testing.md).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { StackConfig } from "../config/stack-config";
import { STACK_JOBS } from "../hostfiles/services/prometheus";
import { ALERT_NAMES, BURN_TIERS } from "../config/slo-alerts";
import { buildSloModels } from "../rules/slo-model";
import { waitFor, sleep } from "./support/daemons";
import { stackConfig } from "./support/stacks";
import { requireTool } from "./support/validators";
import { AlertingSandbox, ALERTMANAGER_BIN, PROMETHEUS_BIN, serviceUnderTest } from "./integration/alerting-sandbox";
import { AppointmentsApp, buildExample, EXAMPLE_DIR, requireExampleApp } from "./integration/appointments-app";
import { CollectorStandIn, parseExposition } from "./integration/collector-naming";
import { PostgresCluster, PostgresDatabase, postgresBinDir } from "./integration/postgres";
import { Doc, structuralDiff, TEST_TIMING } from "./integration/sandbox";
import { Received, slackMessage } from "./integration/webhook-receiver";

/** Pool size of the app: small, so a slow database saturates it with a handful of clients. */
const POOL_MAX = 4;
/**
 * Closed-loop load: clients and their pause between requests (about 8 requests/s while healthy). With the slow
 * database they stop pausing: 8 clients on 4 connections keep every connection busy (and about 6.7 requests/s
 * flowing), with no request waiting anywhere near the pool's connection timeout.
 */
const USERS = 8;
const THINK_MS = 1000;
const SLOW_DB_MS = 600;
const TRACES_PATH = "v1/traces";

/** dev's config with the app scraped directly and the saturation average over 1m (see the file comment). */
function e2eConfig(metricsPort: number): StackConfig {
  const dev = stackConfig("dev");
  const file = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.dev.yaml"), "utf8")) as Doc;
  const slos = (file.config[`${dev.project}:slos`] as Doc[]).map((s) => (s.kind === "saturation" ? { ...s, for: "1m" } : s));
  const service = serviceUnderTest(dev).service;
  return stackConfig("dev", { slos, appScrapeTargets: [{ service, targets: [`127.0.0.1:${metricsPort}`] }] });
}

/** One instance of the example under test: its database, its two sandboxes (direct, OTLP path) and its load. */
interface Subject {
  name: string;
  db: PostgresDatabase;
  sb: AlertingSandbox<AppointmentsApp>;
  /** The OTLP path: committed dev config, the collector stand-in as the `otelcol-apps` target. */
  otlp: AlertingSandbox<CollectorStandIn>;
  load?: ReturnType<AppointmentsApp["traffic"]>;
}

/** Starts an instance of the example on `db` with its direct sandbox, then the OTLP sandbox scraping the stand-in. */
async function startSubject(name: string, db: PostgresDatabase, started: Subject[]): Promise<Subject> {
  const service = serviceUnderTest(stackConfig("dev")).service;
  const sb = await AlertingSandbox.start<AppointmentsApp>({
    app: {
      start: async (webhook) => {
        const app = await AppointmentsApp.create({ service, db, poolMax: POOL_MAX, tracesUrl: `http://127.0.0.1:${webhook.port}/${TRACES_PATH}` });
        await app.start();
        return app;
      },
      config: (app) => e2eConfig(app.port),
    },
  });
  const subject = { name, db, sb } as Subject;
  started.push(subject);
  subject.otlp = await AlertingSandbox.start<CollectorStandIn>({
    app: { start: () => new CollectorStandIn(sb.app.metricsUrl).start(), config: () => stackConfig("dev") },
  });
  return subject;
}

/** The subject's two sandboxes, by path name. */
const paths = (s: Subject) => [
  { path: `${s.name}, direct`, box: s.sb as AlertingSandbox<AppointmentsApp | CollectorStandIn> },
  { path: `${s.name}, OTLP`, box: s.otlp as AlertingSandbox<AppointmentsApp | CollectorStandIn> },
];

/** Every SLO of `service` recorded from the subject's series in `box` (the rules have seen the app's traffic). */
async function sloRecords(p: string, box: AlertingSandbox<AppointmentsApp | CollectorStandIn>, service: string): Promise<Doc[]> {
  const models = buildSloModels(box.cfg).slos.filter((m) => m.service === service);
  return waitFor(`${p}: every SLO's records`, 60_000, async () => {
    const ratio = await box.query(`slo:sli_error:ratio_rate5m{service="${service}"}`);
    const sat = await box.query(`slo:db_connections:saturation_ratio{service="${service}"}`);
    const all = [...ratio, ...sat];
    return models.every((m) => all.some((r) => r.metric.slo === m.name)) ? all : undefined;
  });
}

/** Starts `scenario` now; its test awaits the promise (a failure is reported there, never as an unhandled rejection). */
function startedNow<T>(scenario: () => Promise<T>): Promise<T> {
  const p = scenario();
  p.catch(() => undefined);
  return p;
}

describe("SLOs end to end with the real NestJS app and PostgreSQL: scraped directly (SDK Prometheus exporter) and via the collector's naming (OTLP path)", function () {
  this.timeout(60_000);
  let cluster: PostgresCluster | undefined;
  /** Every subject started so far (closed in `after`, whatever failed). */
  const subjects: Subject[] = [];
  /** The main instance: exposition, healthy, stopped. */
  let main: Subject;
  let db: PostgresDatabase;
  let sb: AlertingSandbox<AppointmentsApp>;
  let otlp: AlertingSandbox<CollectorStandIn>;
  let load: ReturnType<AppointmentsApp["traffic"]> | undefined;
  /** The fault scenarios, running on their own instances from `before` on. */
  let scenarios: { failing: Promise<void>; slowDb: Promise<void> };
  const started = Date.now();

  before(async function () {
    requireTool(this, PROMETHEUS_BIN);
    requireTool(this, ALERTMANAGER_BIN);
    requireExampleApp(this, !!postgresBinDir());
    this.timeout(300_000);
    buildExample();
    cluster = await PostgresCluster.start();
    const dbs = { main: cluster as PostgresDatabase, failing: cluster.createDatabase("appointments_failing"), slowDb: cluster.createDatabase("appointments_slow_db") };
    const [m, failing, slowDb] = await Promise.all([startSubject("main", dbs.main, subjects), startSubject("failing", dbs.failing, subjects), startSubject("slow-db", dbs.slowDb, subjects)]);
    main = m;
    ({ db, sb, otlp } = main);
    scenarios = { failing: startedNow(() => failingScenario(failing)), slowDb: startedNow(() => slowDbScenario(slowDb)) };
  });

  after(async function () {
    this.timeout(90_000);
    if (scenarios) await Promise.allSettled(Object.values(scenarios));
    await load?.stop();
    for (const s of subjects) {
      await s.load?.stop();
      await s.otlp?.close();
      await s.sb.close();
    }
    await cluster?.stop();
    console.log(`      (appointments e2e: ${((Date.now() - started) / 1000).toFixed(1)} s including build, start-up and cleanup)`);
  });

  const svc = () => sb.sut.service;
  const slo = (kind: string) => {
    const s = sb.cfg.slos.find((x) => x.service === svc() && x.kind === kind);
    assert.ok(s, `the config has a ${kind} SLO for ${svc()}`);
    return s;
  };
  const isPage = (r: Received, alertname: string, sloName: string) => {
    const m = slackMessage(r);
    return m?.alertname === alertname && m.status === "FIRING" && r.body?.attachments?.[0]?.fallback?.includes(sloName);
  };
  const firing = async (box: AlertingSandbox<AppointmentsApp | CollectorStandIn>, alertname: string, sloName: string) =>
    (await box.promAlerts()).find((a) => a.labels.alertname === alertname && a.labels.slo === sloName && a.state === "firing");
  const both = () => paths(main);

  /** Healthy traffic on a fault subject until both sandboxes compute every SLO, as the main instance had before its faults. */
  async function warmUp(s: Subject): Promise<void> {
    s.load = s.sb.app.traffic(USERS, THINK_MS);
    for (const { path: p, box } of paths(s)) await sloRecords(p, box, svc());
  }

  /** Every request failing, and the pool held at its maximum with real PostgreSQL connections. */
  async function failingScenario(s: Subject): Promise<void> {
    const fast = BURN_TIERS.find((t) => t.id === "fast")!;
    const avail = slo("availability");
    await warmUp(s);
    const since = Date.now();
    await s.sb.app.setFaults("failing", { holdPool: true });
    // The held connections are real: PostgreSQL has them, and the SDK reports used == max.
    await waitFor(`${s.name}: the pool's connections in PostgreSQL`, 20_000, () => (s.db.connections().total >= POOL_MAX ? true : undefined));
    const text = await waitFor(`${s.name}: used == max in the exposition`, 10_000, async () => {
      const t = await s.sb.app.scrape();
      return new RegExp(`^db_client_connection_count\\{db_client_connection_state="used"[^}]*\\} ${POOL_MAX}$`, "m").test(t) ? t : undefined;
    });
    assert.match(text, new RegExp(`^db_client_connection_max\\{[^}]*\\} ${POOL_MAX}$`, "m"));
    await Promise.all(
      paths(s).map(async ({ path: p, box }) => {
        const page = await box.webhook.waitFor(`${p}: ${fast.alert}{slo="${avail.name}"} at the webhook`, 180_000, (r) => isPage(r, fast.alert, avail.name), since);
        console.log(`      ${p}: every request failing → ${fast.alert} page for ${avail.name}: ${((page.at - since) / 1000).toFixed(1)} s`);
        assert.equal(slackMessage(page)?.title, `[FIRING:1] ${fast.alert}`);
        const ratio = await box.query(`slo:sli_error:ratio_rate5m{slo="${avail.name}"}`);
        assert.ok(Number(ratio[0].value[1]) > 0.08, `${p}: ${JSON.stringify(ratio)}`);
        // Failing requests are fast: none is slower than the latency threshold.
        const latency = await box.query(`slo:sli_error:ratio_rate5m{slo="${slo("latency").name}"}`);
        assert.equal(Number(latency[0].value[1]), 0, `${p}: fast failures are not slow requests`);
      }),
    );
    assert.ok(s.load!.counts["500"] > 20, JSON.stringify(s.load!.counts));
  }

  /** A slow database keeping every pooled connection busy: latency and saturation alerts. */
  async function slowDbScenario(s: Subject): Promise<void> {
    const fast = BURN_TIERS.find((t) => t.id === "fast")!;
    const lat = slo("latency");
    const sat = slo("saturation");
    await warmUp(s);
    const since = Date.now();
    // The slow requests take every connection of the pool at once.
    await s.sb.app.setFaults("slow-db", { dbDelayMs: SLOW_DB_MS });
    s.load!.setThink(0);
    // Real connections: PostgreSQL sees the pool's connections busy in pg_sleep, and the SDK reports used == max.
    await waitFor(`${s.name}: every pooled connection busy in PostgreSQL`, 20_000, () => {
      const c = s.db.connections();
      return c.active >= POOL_MAX ? c : undefined;
    });
    const saturatedSince = Date.now();
    const text = await s.sb.app.scrape();
    assert.match(text, new RegExp(`^db_client_connection_count\\{db_client_connection_state="used"[^}]*\\} ${POOL_MAX}$`, "m"));

    await Promise.all(
      paths(s).map(async ({ path: p, box }) => {
        const latencyAlert = await waitFor(`${p}: ${fast.alert}{slo="${lat.name}"} firing`, 180_000, () => firing(box, fast.alert, lat.name), { intervalMs: 1000 });
        console.log(`      ${p}: database at ${SLOW_DB_MS} ms → ${fast.alert} for ${lat.name} firing: ${((Date.now() - since) / 1000).toFixed(1)} s`);
        assert.equal(latencyAlert.labels.severity, "page");
        const ratio = await box.query(`slo:sli_error:ratio_rate5m{slo="${lat.name}"}`);
        assert.ok(Number(ratio[0].value[1]) > 0.15, `${p}: ${JSON.stringify(ratio)}`);
        // The pool's used/max as the rules compute it, on either path (the OTLP sandbox keeps dev's 10m average, so
        // only the direct one waits for the alert below).
        const satRatio = await box.query(`slo:db_connections:saturation_ratio{slo="${sat.name}"}`);
        assert.equal(Number(satRatio[0].value[1]), 1, `${p}: used == max`);
      }),
    );

    const satAlert = await waitFor(`${s.name}: ${ALERT_NAMES.dbSaturation}{slo="${sat.name}"} firing`, 240_000, () => firing(s.sb, ALERT_NAMES.dbSaturation, sat.name), { intervalMs: 1000 });
    console.log(`      ${s.name}: pool at its maximum → ${ALERT_NAMES.dbSaturation} firing (seen ${((Date.now() - saturatedSince) / 1000).toFixed(1)} s after the pool got there)`);
    assert.equal(satAlert.labels.service, svc());
    // Both reach the receiver (team-slack takes pages and tickets in dev).
    await s.sb.webhook.waitFor(`${s.name}: ${ALERT_NAMES.dbSaturation} at the webhook`, 20_000, (r) => isPage(r, ALERT_NAMES.dbSaturation, sat.name), saturatedSince);
    await s.sb.webhook.waitFor(`${s.name}: ${fast.alert}{slo="${lat.name}"} at the webhook`, 20_000, (r) => isPage(r, fast.alert, lat.name), since);
  }

  it("renders the app's scrape job from appScrapeTargets and runs the rendered rules unchanged", () => {
    const s = sb.sandbox;
    assert.equal(s.plan.appJob, svc(), "the app is scraped directly, as job <service>");
    const job = (s.prometheus.original.scrape_configs as Doc[]).find((j) => j.job_name === svc());
    assert.deepEqual(job?.static_configs, [{ targets: [`127.0.0.1:${sb.app.port}`] }]);
    // Only addresses, paths and TEST_TIMING differ from the rendered prometheus.yml; the app's job is not touched.
    const changed = structuralDiff(s.prometheus.original, s.prometheus.doc).map((c) => c.path);
    assert.ok(!changed.some((p) => p.startsWith(`scrape_configs[${(s.prometheus.original.scrape_configs as Doc[]).indexOf(job!)}]`)), changed.join(", "));
    for (const f of s.ruleFiles) assert.equal(fs.readFileSync(f.path, "utf8"), sb.rendered.find((r) => r.path === f.hostPath)?.content);
    // Directly scraped: the service-down alert watches `up`.
    assert.match(sb.sut.serviceDown.expr, /\bup\{job=/);
    // The OTLP path: the committed dev config, the app behind the collector; service-down watches target_info.
    assert.equal(otlp.sandbox.plan.appJob, STACK_JOBS.otelcolApps);
    assert.equal(otlp.sut.service, svc());
    assert.match(otlp.sut.serviceDown.expr, /target_info\{job=/);
  });

  it("the SDK's exposition: names without unit suffix, the 0.4 s bucket, pool metrics of the real pool, the custom counter, target_info; every SLO's presence selector finds it", async function () {
    this.timeout(60_000);
    load = sb.app.traffic(USERS, THINK_MS);
    const text = await waitFor("the app's first requests in its exposition", 20_000, async () => {
      const t = await sb.app.scrape();
      return /^appointments_created_total\{/m.test(t) && /^db_client_connection_max\{/m.test(t) ? t : undefined;
    });
    const lat = slo("latency");
    // The JS exporter does not append the unit: http_server_request_duration_*, not ..._seconds_*.
    assert.match(text, /^# TYPE http_server_request_duration histogram$/m);
    assert.doesNotMatch(text, /http_server_request_duration_seconds/);
    const post = `http_request_method="${lat.selector.method}"`;
    const route = `http_route="${lat.selector.route}"`;
    const bucketLine = text.split("\n").find((l) => l.startsWith("http_server_request_duration_bucket{") && l.includes(post) && l.includes(route) && l.includes(`le="${lat.threshold}"`));
    assert.ok(bucketLine, `no le="${lat.threshold}" bucket for ${post} ${route}:\n${text.slice(0, 3000)}`);
    assert.match(bucketLine, /http_response_status_code="201"/);
    assert.match(bucketLine, /otel_scope_name="@opentelemetry\/instrumentation-http"/);
    // Every boundary the SLO declares is exported (the View in examples/appointments-api/src/telemetry.ts).
    for (const b of lat.buckets ?? []) assert.ok(text.includes(`le="${b}"`), `bucket ${b}`);
    // The pg instrumentation names the pool host:port/database and reports its max.
    const pool = `db_client_connection_pool_name="127.0.0.1:${db!.port}/${db!.database}"`;
    assert.match(text, new RegExp(`^db_client_connection_max\\{${pool.replace(/[/.]/g, "\\$&")}[^}]*\\} ${POOL_MAX}$`, "m"));
    assert.match(text, new RegExp(`^db_client_connection_count\\{db_client_connection_state="used",${pool.replace(/[/.]/g, "\\$&")}`, "m"));
    assert.match(text, /^# TYPE appointments_created_total counter$/m);
    assert.match(text, new RegExp(`^target_info\\{[^}]*service_name="${svc()}"`, "m"));

    // What Prometheus stored from the scrape: job/instance from the scrape config, and every SLO's presence
    // selector (the series whose absence raises SloMetricsMissing) matches the real series.
    const models = buildSloModels(sb.cfg).slos.filter((m) => m.service === svc());
    for (const m of models) {
      const found = await waitFor(`series for ${m.presenceSelector}`, 20_000, async () => {
        const r = await sb.query(m.presenceSelector);
        return r.length ? r : undefined;
      });
      assert.equal(found[0].metric.job, svc(), m.presenceSelector);
      assert.equal(found[0].metric.instance, `127.0.0.1:${sb.app.port}`);
    }

    // The same instruments as the collector names them: unit suffix on the histogram, none on `{connection}`
    // gauges, `_total` kept on the counter, job/instance from service.name/service.instance.id, target_info.
    const instanceId = /service_instance_id="([^"]+)"/.exec(text)?.[1];
    assert.ok(instanceId, "the SDK sets service.instance.id (the collector writes target_info only with it)");
    const collector = await waitFor("the collector stand-in to be scraped", 20_000, () => (otlp.app.last ? otlp.app.last : undefined));
    const names = new Set(parseExposition(collector).flatMap((f) => f.samples.map((x) => x.name)));
    for (const n of ["http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count", "db_client_connection_count", "db_client_connection_max", "appointments_created_total", "target_info"]) {
      assert.ok(names.has(n), `${n} not among ${[...names].join(", ")}`);
    }
    assert.match(collector, new RegExp(`^target_info\\{[^}]*job="${svc()}"[^}]*\\} 1$`, "m"));
    const otlpModels = buildSloModels(otlp.cfg).slos.filter((m) => m.service === svc());
    for (const m of otlpModels) {
      const found = await waitFor(`OTLP path: series for ${m.presenceSelector}`, 20_000, async () => {
        const r = await otlp.query(m.presenceSelector);
        return r.length ? r : undefined;
      });
      assert.equal(found[0].metric.job, svc(), m.presenceSelector);
      assert.equal(found[0].metric.instance, instanceId);
    }
    assert.equal((await otlp.query(`target_info{job="${svc()}"}`)).length, 1);
  });

  it("healthy: every SLO is computed from the SDK's series, nothing about the app pending or firing, nothing sent; logs carry trace ids", async function () {
    this.timeout(60_000);
    for (const { path: p, box } of both()) {
      const records = await sloRecords(p, box, svc());
      for (const r of records) {
        const v = Number(r.value[1]);
        if (r.metric.__name__ === "slo:db_connections:saturation_ratio") assert.ok(v <= 1 && v < slo("saturation").threshold!, `${p}: ${JSON.stringify(r)}`);
        else assert.equal(v, 0, `${p}: ${JSON.stringify(r)}`);
      }
    }
    await sleep(8 * 1000);
    for (const { path: p, box } of both()) {
      const aboutApp = (await box.promAlerts()).filter((a) => a.labels.service === svc() || a.labels.slo || a.labels.job === svc());
      assert.deepEqual(aboutApp, [], `${p}: alerts about a healthy application`);
      assert.deepEqual(box.webhook.received.filter((r) => r.receiver !== TRACES_PATH), [], `${p}: no notification while healthy`);
    }
    assert.ok(load!.counts["201"] > 50, JSON.stringify(load!.counts));

    // JSON logs: the request's log line carries the trace and span ids of the request's span.
    const line = sb.app.output().split("\n").filter((l) => l.includes('"appointment created"')).map((l) => JSON.parse(l) as Doc).at(-1);
    assert.ok(line, "no 'appointment created' log line");
    assert.match(line.trace_id, /^[0-9a-f]{32}$/);
    assert.match(line.span_id, /^[0-9a-f]{16}$/);
    // And the spans were exported (OTLP/HTTP to the loopback receiver).
    await waitFor("traces at the OTLP receiver", 10_000, () => (sb.webhook.received.some((r) => r.receiver === TRACES_PATH) ? true : undefined));
  });

  it("the app stopped: SloServiceDown pages", async function () {
    const alert = sb.sut.serviceDown;
    this.timeout(120_000);
    await load?.stop();
    load = undefined;
    const stoppedAt = await sb.app.stop();
    assert.ok(!sb.app.running());
    await Promise.all(
      both().map(async ({ path: p, box }) => {
        const isDown = (r: Received) => slackMessage(r)?.alertname === alert.alert && slackMessage(r)?.status === "FIRING";
        const page = await box.webhook.waitFor(`${p}: the ${alert.alert} page`, 110_000, isDown, stoppedAt);
        const latency = (page.at - stoppedAt) / 1000;
        console.log(`      ${p}: app stopped → ${alert.alert} page: ${latency.toFixed(1)} s (for ${alert.for}, scrape ${TEST_TIMING.scrapeInterval})`);
        assert.ok(latency >= 60, `${p}: paged after ${latency} s, before the rule's for (${alert.for})`);
      }),
    );
    const up = await sb.query(`up{job="${svc()}"}`);
    assert.equal(up[0]?.value[1], "0", "direct: the app's target is down");
    // OTLP: the collector itself is still scraped fine; the app's series (target_info included) are gone.
    assert.equal((await otlp.query(`up{job="${STACK_JOBS.otelcolApps}"}`))[0]?.value[1], "1");
    assert.deepEqual(await otlp.query(`target_info{job="${svc()}"}`), []);
  });

  it("every request failing, and the pool held at its maximum with real PostgreSQL connections: the availability SLO's fast page reaches the webhook; the latency SLO stays clean", function () {
    this.timeout(300_000);
    return scenarios.failing;
  });

  it("a slow database (600 ms per query) keeping every pooled connection busy: the latency SLO's error ratio rises and its fast alert fires; the saturation alert fires", function () {
    this.timeout(300_000);
    return scenarios.slowDb;
  });

  it("the example has its own package.json and lockfile, outside the Pulumi program's dependencies", () => {
    const own = JSON.parse(fs.readFileSync(path.join(EXAMPLE_DIR, "package.json"), "utf8")) as Doc;
    assert.ok(fs.existsSync(path.join(EXAMPLE_DIR, "package-lock.json")));
    const root = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as Doc;
    for (const dep of Object.keys(own.dependencies)) {
      assert.ok(!(dep in (root.dependencies ?? {})) && !(dep in (root.devDependencies ?? {})), `${dep} leaked into the program's package.json`);
    }
  });
});
