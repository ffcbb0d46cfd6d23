/**
 * Grafana dashboards as code (dashboards/, docs/dashboards.md):
 *
 * - the files: one JSON per dashboard in a folder under the provider's path, ownership/mode, delivered in the S3
 *   bundle and not in the 16 KB user data;
 * - structure: stable uids, every panel's data source uid provisioned, unique ids/refIds, generated from the SLO
 *   list (a new SLO or service gets its panels, no saturation SLO → no database dashboard);
 * - PromQL: every Prometheus panel expression (Grafana variables made concrete) parses (`promtool check rules`);
 * - data: every Prometheus panel expression, run against a real Prometheus 2.42 holding the SLO benchmark's healthy
 *   traffic, the stack's own metrics and the SLO recording rules evaluated over them, returns data — and the key
 *   panels show what a healthy system should (SLI above objective, no alert firing, p95 under the threshold).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type { StackConfig } from "../config/stack-config";
import {
  buildDashboards,
  dashboardFiles,
  dashboardPanels,
  dashboardQueries,
  DASHBOARD_FOLDER_DIR,
  DashboardQuery,
} from "../dashboards";
import { MAX_UID_LENGTH, stableUid } from "../layout/dashboard-uid";
import { POOL_METRICS } from "../dashboards/database";
import { DASHBOARD_FOLDER, dashboardFolder } from "../dashboards/index";
import { RUNBOOK_FOLDER, runbookDashboards } from "../dashboards/runbooks";
import { LOGS_TRACES_DASHBOARD_UID, sloTraceQuery } from "../dashboards/logs-traces";
import { HOST_DASHBOARD_UID } from "../dashboards/monitoring-host";
import { serviceDashboardUid } from "../dashboards/service-overview";
import { SLO_DASHBOARD_UID } from "../dashboards/slos";
import { renderBundle } from "../hostfiles/bundle";
import { renderHostFiles } from "../hostfiles/host-files";
import { renderUserData, USER_DATA_LIMIT_BYTES } from "../hostfiles/user-data";
import { GRAFANA_DASHBOARDS_DIR, SERVICES } from "../layout/host-layout";
import { grafanaDashboardProviders, grafanaDatasources } from "../hostfiles/services/grafana";
import { metaAlerts } from "../rules/meta-alerts";
import { placeholderBundleContext, placeholderUserDataContext } from "../layout/host-file";
import { RECORDS, saturationExpr } from "../rules/slo-conventions";
import { buildSloModels, type SloModel } from "../rules/slo-model";
import { HEALTHY } from "../scripts/bench/alert-sim";
import { applicationSeries, pastAlert, stackSeries, toOpenMetrics } from "./dashboards/synthetic";
import { Doc, PrometheusFixture } from "./dashboards/prometheus-fixture";
import { stackConfig, twoTeamStackConfig } from "./support/stacks";
import { concreteQuery } from "./support/grafana-vars";
import { requireTool, run, tempDir } from "./support/validators";

const REPO = path.resolve(__dirname, "..");
const STACKS = ["dev", "prd"];

/** The raw `slos` list of a committed stack file (to extend it in tests). */
function rawSlos(stack: string): Record<string, unknown>[] {
  const doc = YAML.parse(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as Doc;
  return doc.config["monitoring-hosts:slos"] as Record<string, unknown>[];
}

/** A second service and a second latency SLO, as a user would add them. */
const EXTRA_SLOS = [
  {
    name: "appointments-list-latency",
    service: "appointments-api",
    kind: "latency",
    selector: { route: "/appointments", method: "GET" },
    objective: 99,
    threshold: "250ms",
    window: "28d",
  },
  // A service no stack of this repository has (a stack may already have billing-api: tests/support/stacks.ts BILLING).
  { name: "ledger-errors", service: "ledger-legacy-api", kind: "availability", selector: { route: "/entries" }, objective: 99.5, window: "28d", metrics: "otel-legacy" },
  { name: "ledger-db", service: "ledger-legacy-api", kind: "saturation", metrics: "postgres-exporter", selector: { job: "ledger-postgres" }, threshold: 0.8 },
];

/** Grafana's variables made concrete as Grafana would on a fresh load (tests/support/grafana-vars.ts). */
const concrete = concreteQuery;

function promQueries(d: dashboard.Dashboard): DashboardQuery[] {
  return dashboardQueries(d).filter((q) => q.datasource.type === "prometheus");
}

/** Writes every expression as a recording rule and runs `promtool check rules`. */
function promtoolCheck(exprs: string[], dir: string): { status: number; output: string } {
  const file = path.join(dir, `dashboard-queries-${Math.random().toString(36).slice(2)}.yml`);
  fs.writeFileSync(file, YAML.stringify({ groups: [{ name: "dashboards", rules: exprs.map((expr, i) => ({ record: `dashboard_query_${i}`, expr })) }] }));
  const r = run("promtool", ["check", "rules", file]);
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

/** `(inner) or vector(0)` as written by dashboards/common.ts orZero. */
function orZeroInner(expr: string): string | undefined {
  const m = /^\((.*)\) or vector\(0\)$/s.exec(expr);
  return m ? m[1] : undefined;
}

function seriesWithPoints(data: Doc): number {
  return (data.result as Doc[]).filter((s) => (s.values ?? (s.value ? [s.value] : [])).some((v: [number, string]) => Number.isFinite(Number(v[1])))).length;
}

describe("Grafana dashboards (dashboards/)", () => {
  describe("files and provisioning", () => {
    for (const stack of STACKS) {
      it(`${stack}: one JSON file per dashboard in the provisioned folder, root:grafana 0644, no restart needed`, () => {
        const cfg = stackConfig(stack);
        const files = dashboardFiles(cfg, buildSloModels(cfg));
        const boards = buildDashboards(buildSloModels(cfg));
        const runbooks = runbookDashboards(cfg, buildSloModels(cfg));
        assert.equal(files.length, boards.length + runbooks.length);
        // Each generated dashboard in its folder (the shared one, or its team's), every runbook in the Runbooks folder.
        assert.deepEqual(
          files.map((f) => f.path),
          [
            ...boards.map((d) => `${GRAFANA_DASHBOARDS_DIR}/${dashboardFolder(cfg, d.uid!)}/${d.uid}.json`),
            ...runbooks.map((d) => `${GRAFANA_DASHBOARDS_DIR}/${RUNBOOK_FOLDER}/${d.uid}.json`),
          ],
        );
        assert.ok(boards.some((d) => dashboardFolder(cfg, d.uid!) === DASHBOARD_FOLDER), "the shared dashboards");
        for (const f of files) {
          assert.equal(f.owner, `root:${SERVICES.grafana.user}`);
          assert.equal(f.mode, "0644");
          assert.equal(f.onChange, undefined, "Grafana's file provider re-reads the folder itself");
          const d = JSON.parse(f.content) as dashboard.Dashboard;
          assert.equal(path.posix.basename(f.path), `${d.uid}.json`);
          assert.equal(path.posix.dirname(path.posix.dirname(f.path)), GRAFANA_DASHBOARDS_DIR, "one folder level below the provider's path");
        }
        // What "no onChange" relies on: the provider polls, reads subfolders as folders, and reads this path.
        const [provider] = grafanaDashboardProviders() as Doc[];
        assert.ok(provider.updateIntervalSeconds > 0 && provider.updateIntervalSeconds <= 300, "the provider must poll the folder");
        assert.equal(provider.options.path, GRAFANA_DASHBOARDS_DIR);
        assert.equal(provider.options.foldersFromFilesStructure, true, "the subfolder is what puts the dashboards in a Grafana folder");
        assert.equal(path.posix.dirname(DASHBOARD_FOLDER_DIR), GRAFANA_DASHBOARDS_DIR, "one folder level below the provider's path");
      });

      it(`${stack}: the dashboards travel in the S3 bundle, not in the user data, which stays under 16 KB`, () => {
        const cfg = stackConfig(stack);
        const ctx = placeholderBundleContext(stack);
        const files = renderHostFiles(cfg, ctx);
        const ours = dashboardFiles(cfg, buildSloModels(cfg));
        for (const f of ours) assert.ok(files.some((x) => x.path === f.path && x.content === f.content), `${f.path} is not in renderHostFiles`);
        const bundle = renderBundle(cfg, ctx);
        const udCtx = placeholderUserDataContext(stack);
        const userData = renderUserData(cfg, udCtx);
        const dashBytes = ours.reduce((a, f) => a + Buffer.byteLength(f.content), 0);
        const userBytes = Buffer.byteLength(userData);
        console.log(`      ${stack}: ${ours.length} dashboards, ${dashBytes} bytes; bundle ${Buffer.byteLength(bundle)} bytes (S3); user data ${userBytes} bytes`);
        assert.ok(bundle.includes(JSON.stringify(`${DASHBOARD_FOLDER_DIR}/${SLO_DASHBOARD_UID}.json`)));
        assert.ok(!userData.includes(GRAFANA_DASHBOARDS_DIR), "no dashboard in user data");
        assert.ok(dashBytes > USER_DATA_LIMIT_BYTES, "the dashboards alone would not fit user data: they must go through the bundle");
        assert.ok(userBytes < USER_DATA_LIMIT_BYTES);
        // User data does not depend on the dashboards: the same with none.
        assert.equal(userData, renderUserData(stackConfig(stack, { slos: [] }), udCtx));
        assert.equal(userData, renderUserData(stackConfig(stack, { slos: [...rawSlos(stack), ...EXTRA_SLOS] }), udCtx));
      });
    }
  });

  for (const stack of STACKS) {
    describe(`structure (${stack})`, () => {
      let cfg: StackConfig;
      let boards: dashboard.Dashboard[];
      before(() => {
        cfg = stackConfig(stack);
        boards = buildDashboards(buildSloModels(cfg));
      });

      it("has the SLO overview, one dashboard per service, the database, logs/traces and host dashboards, with stable uids of at most 40 characters", () => {
        const services = [...new Set(cfg.slos.map((x) => x.service))];
        assert.deepEqual(
          boards.map((d) => d.uid),
          [
            "slo-overview",
            ...services.map(serviceDashboardUid),
            ...(cfg.slos.some((x) => x.kind === "saturation") ? ["database-saturation"] : []),
            "logs-and-traces",
            "monitoring-host",
          ],
        );
        for (const d of boards) assert.ok(d.uid!.length <= MAX_UID_LENGTH && /^[a-z0-9-]+$/.test(d.uid!), d.uid);
        assert.equal(JSON.stringify(buildDashboards(buildSloModels(cfg))), JSON.stringify(boards), "deterministic");
      });

      it("every panel's data source (and every query's) is a provisioned data source, by uid and type", () => {
        const provisioned = new Map(grafanaDatasources().map((ds) => [ds.uid, ds.type]));
        for (const d of boards) {
          for (const p of dashboardPanels(d)) {
            assert.ok(p.datasource?.uid, `${d.uid} / ${p.title}: no data source`);
            assert.equal(provisioned.get(p.datasource.uid), p.datasource.type, `${d.uid} / ${p.title}: ${JSON.stringify(p.datasource)}`);
          }
          for (const q of dashboardQueries(d)) {
            assert.equal(provisioned.get(q.datasource.uid!), q.datasource.type, `${d.uid} / ${q.panel} ${q.refId}: ${JSON.stringify(q.datasource)}`);
          }
          for (const v of (d.templating?.list ?? []) as Doc[]) {
            if (v.datasource) assert.equal(provisioned.get(v.datasource.uid), v.datasource.type, `${d.uid} variable ${v.name}`);
          }
        }
      });

      it("every panel has queries with unique refIds, unique panel ids, and fits the 24-column grid", () => {
        for (const d of boards) {
          const panels = dashboardPanels(d);
          assert.ok(panels.length > 0, d.uid);
          const ids = (d.panels as Doc[]).map((p) => p.id);
          assert.equal(new Set(ids).size, ids.length, `${d.uid}: duplicate panel ids`);
          assert.ok(ids.every((id) => Number.isInteger(id) && id > 0));
          for (const p of panels) {
            const refIds = ((p.targets ?? []) as Doc[]).map((t) => t.refId);
            assert.ok(refIds.length > 0, `${d.uid} / ${p.title}: no query`);
            assert.equal(new Set(refIds).size, refIds.length, `${d.uid} / ${p.title}: duplicate refIds`);
            assert.ok(refIds.every((r) => typeof r === "string" && r.length > 0));
            const g = p.gridPos!;
            assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${d.uid} / ${p.title}: ${JSON.stringify(g)}`);
          }
          for (const q of dashboardQueries(d)) assert.ok(q.expr.trim().length > 0, `${d.uid} / ${q.panel}: empty query`);
        }
      });

      it("the SLO dashboard has a row per SLO, and each SLO's queries select its own recorded series", () => {
        const set = buildSloModels(cfg);
        const d = boards.find((b) => b.uid === SLO_DASHBOARD_UID)!;
        const rows = (d.panels as Doc[]).filter((p) => p.type === "row").map((p) => p.title as string);
        assert.deepEqual(
          rows.map((t) => t.split(" — ")[0]),
          set.slos.map((m) => m.name),
        );
        const queries = dashboardQueries(d);
        for (const m of set.slos) {
          const own = queries.filter((q) => q.expr.includes(m.seriesSelector));
          assert.ok(own.length >= 2, `${m.name}: ${own.length} queries`);
          if (m.ratio) {
            for (const rec of [RECORDS.errorRatioWindow, RECORDS.objective, RECORDS.budgetRemaining]) {
              assert.ok(own.some((q) => q.expr.includes(`${rec}${m.seriesSelector}`)), `${m.name} lacks ${rec}`);
            }
            for (const a of m.ratio.burnAlerts) {
              for (const w of [a.longWindow, a.shortWindow]) {
                assert.ok(own.some((q) => q.expr.includes(`${RECORDS.errorRatio(w)}${m.seriesSelector} / ${m.ratio!.errorBudget}`)), `${m.name}: burn rate ${w}`);
              }
            }
          }
          for (const alert of m.alertNames) {
            assert.ok(queries.some((q) => q.expr.includes(`alertname="${alert}", slo="${m.name}"`)), `${m.name}: alert ${alert}`);
          }
        }
      });

      it("draws the thresholds from the SLO model: latency threshold, burn-rate tiers, saturation threshold", () => {
        const set = buildSloModels(cfg);
        const lines = (d: dashboard.Dashboard, title: string) => {
          const p = dashboardPanels(d).find((x) => x.title === title);
          assert.ok(p, `${d.uid}: no panel ${title}`);
          return ((p.fieldConfig?.defaults?.thresholds?.steps ?? []) as Doc[]).map((s) => s.value).filter((v) => v !== null);
        };
        for (const service of new Set(set.slos.filter((m) => m.ratio?.latency).map((m) => m.service))) {
          const svc = boards.find((b) => b.uid === serviceDashboardUid(service))!;
          const latency = set.slos.filter((m) => m.ratio?.latency && m.service === service);
          assert.deepEqual(lines(svc, "Latency p50 / p95 / p99"), latency.map((m) => m.ratio!.latency!.thresholdSeconds));
          assert.equal((dashboardPanels(svc).find((x) => x.title === "Latency p50 / p95 / p99")!.fieldConfig!.defaults.custom as Doc).thresholdsStyle.mode, "dashed");
        }
        const slo = boards.find((b) => b.uid === SLO_DASHBOARD_UID)!;
        const tiers = [...new Set(set.slos.find((m) => m.ratio)!.ratio!.burnAlerts.map((a) => a.burnRate))];
        assert.deepEqual(lines(slo, "Burn rate per alert window").slice(0, tiers.length), tiers);
        const sat = set.slos.find((m) => m.saturation)!;
        assert.deepEqual(lines(boards.find((b) => b.uid === "database-saturation")!, "Pool saturation"), [sat.saturation!.threshold]);
      });

      it("exemplars are on for the latency panel (the Prometheus data source links them to Tempo)", () => {
        const svc = boards.find((b) => b.uid === serviceDashboardUid(cfg.slos.find((x) => x.kind === "latency")!.service))!;
        const p = dashboardPanels(svc).find((x) => x.title === "Latency p50 / p95 / p99")!;
        assert.ok((p.targets as Doc[]).every((t) => t.exemplar === true));
        const prom = grafanaDatasources().find((x) => x.uid === p.datasource!.uid)!;
        assert.equal((prom.jsonData.exemplarTraceIdDestinations as Doc[])[0].datasourceUid, "tempo");
      });

      it("logs and traces: Loki logs of the service, TraceQL per request SLO with its route, method and threshold", () => {
        const d = boards.find((b) => b.uid === "logs-and-traces")!;
        const set = buildSloModels(cfg);
        const queries = dashboardQueries(d);
        assert.ok(queries.some((q) => q.datasource.type === "loki" && q.expr === '{service_name="$service"}'));
        const traces = queries.filter((q) => q.datasource.type === "tempo");
        assert.deepEqual(
          traces.map((q) => q.expr),
          set.slos.filter((m) => m.ratio).map(sloTraceQuery),
        );
        for (const latency of set.slos.filter((m) => m.ratio?.latency)) {
          const sel = latency.spec.selector;
          assert.equal(
            sloTraceQuery(latency),
            `{ resource.service.name = "${latency.service}" && kind = server && span.http.route = "${sel.route}" && span.http.request.method = "${sel.method}" && duration > ${latency.ratio!.latency!.thresholdSeconds * 1000}ms }`,
          );
        }
        for (const q of traces) assert.equal((q.expr.match(/\{/g) ?? []).length, (q.expr.match(/\}/g) ?? []).length);
      });
    });
  }

  describe("generated from the SLO list", () => {
    it("a new SLO gets its row and a new service its dashboards, without editing any dashboard code", () => {
      const before = buildDashboards(buildSloModels(stackConfig("dev")));
      const after = buildDashboards(buildSloModels(stackConfig("dev", { slos: [...rawSlos("dev"), ...EXTRA_SLOS] })));
      const slo = (ds: dashboard.Dashboard[]) => ds.find((d) => d.uid === SLO_DASHBOARD_UID)!;
      const rows = (d: dashboard.Dashboard) => (d.panels as Doc[]).filter((p) => p.type === "row").length;
      assert.equal(rows(slo(after)), rows(slo(before)) + EXTRA_SLOS.length);
      for (const extra of EXTRA_SLOS) {
        assert.ok(dashboardQueries(slo(after)).some((q) => q.expr.includes(`{slo="${extra.name}"}`)), extra.name);
      }
      assert.ok(after.some((d) => d.uid === serviceDashboardUid("ledger-legacy-api")), "the new service gets a service dashboard");
      // The new GET latency SLO (250 ms) is drawn next to the POST one (400 ms) on the shared service dashboard.
      const svc = after.find((d) => d.uid === serviceDashboardUid("appointments-api"))!;
      const lat = dashboardPanels(svc).find((p) => p.title === "Latency p50 / p95 / p99")!;
      assert.deepEqual(((lat.fieldConfig!.defaults.thresholds!.steps as Doc[]).map((s) => s.value)).filter((v) => v !== null), [0.4, 0.25]);
      // The new service speaks otel-legacy (milliseconds): its metric names and units follow.
      const billing = after.find((d) => d.uid === serviceDashboardUid("ledger-legacy-api"))!;
      assert.ok(dashboardQueries(billing).every((q) => !q.expr.includes("http_server_request_duration")));
      // Either spelling of the histogram: with the unit suffix (collector) or without (JS SDK scraped directly).
      assert.ok(dashboardQueries(billing).some((q) => q.expr.includes('__name__=~"http_server_duration(_milliseconds)?_bucket"')));
      const db = after.find((d) => d.uid === "database-saturation")!;
      assert.ok(dashboardQueries(db).some((q) => q.expr.includes('pg_stat_activity_count{job="ledger-postgres"}')));
    });

    it("a namespaced service (job `<namespace>/<name>`) is found by name and namespace in Loki and Tempo", () => {
      const slos = [{ ...rawSlos("dev")[0], service: "clinic/appointments-api" }];
      const boards = buildDashboards(buildSloModels(stackConfig("dev", { slos })));
      const d = boards.find((b) => b.uid === "logs-and-traces")!;
      const v = (d.templating!.list as Doc[]).find((x) => x.name === "service")!;
      assert.equal(v.current.value, "appointments-api");
      assert.equal(v.query, "clinic/appointments-api : appointments-api");
      const trace = dashboardQueries(d).find((q) => q.datasource.type === "tempo")!;
      assert.match(trace.expr, /resource\.service\.name = "appointments-api" && resource\.service\.namespace = "clinic"/);
      // Prometheus keeps the job label as is.
      const svc = boards.find((b) => b.uid === serviceDashboardUid("clinic/appointments-api"))!;
      assert.equal(svc.uid, "service-clinic-appointments-api");
      assert.ok(dashboardQueries(svc).some((q) => q.expr.includes('job="clinic/appointments-api"')));
    });

    it("uids stay stable and within 40 characters for long service names, and distinct", () => {
      const a = serviceDashboardUid("appointments-scheduling-and-reminders-api-eu");
      const b = serviceDashboardUid("appointments-scheduling-and-reminders-api-us");
      assert.ok(a.length <= MAX_UID_LENGTH && b.length <= MAX_UID_LENGTH, `${a} ${b}`);
      assert.notEqual(a, b);
      assert.equal(a, serviceDashboardUid("appointments-scheduling-and-reminders-api-eu"));
      assert.equal(stableUid("Service: Appointments API"), "service-appointments-api");
    });

    it("without SLOs only the monitoring-host dashboard remains; without saturation SLOs no database dashboard", () => {
      assert.deepEqual(buildDashboards(buildSloModels(stackConfig("dev", { slos: [] }))).map((d) => d.uid), [HOST_DASHBOARD_UID]);
      const noSat = rawSlos("dev").filter((s) => s.kind !== "saturation");
      assert.ok(!buildDashboards(buildSloModels(stackConfig("dev", { slos: noSat }))).some((d) => d.uid === "database-saturation"));
    });

    it("pool metric names agree with the saturation SLI the rules compute (rules/slo-conventions.ts saturationExpr)", () => {
      for (const conv of ["otel", "otel-legacy", "postgres-exporter"] as const) {
        const e = saturationExpr(conv, "svc", "main").ratio;
        const n = POOL_METRICS[conv];
        assert.ok(e.includes(`${n.used}{`) && e.includes(`${n.max}{`), `${conv}: ${e}`);
        if (n.pool) assert.ok(e.includes(n.pool), `${conv}: pool label ${n.pool}`);
        if (n.usedState) assert.ok(e.includes(`${n.state}="${n.usedState}"`), `${conv}: state label`);
      }
    });

    it("the monitoring-host dashboard reads the metrics the meta-alerts read", () => {
      const host = buildDashboards(buildSloModels(stackConfig("dev"))).find((d) => d.uid === HOST_DASHBOARD_UID)!;
      const text = dashboardQueries(host).map((q) => q.expr).join("\n");
      const covered = [
        "DataVolumeFillingUp",
        "DataVolumeAlmostFull",
        "PrometheusRuleEvaluationFailures",
        "CollectorRefusingData",
        "CollectorExportFailing",
        "CollectorQueueAlmostFull",
        "CollectorDroppingData",
        "LokiChunkFlushFailing",
        "TempoBackendWriteFailing",
        "LokiRuleEvaluationFailures",
        "LokiRulerNotificationsFailing",
      ];
      for (const name of covered) {
        const a = metaAlerts().find((x) => x.alert === name);
        assert.ok(a, `meta-alert ${name} no longer exists`);
        const metrics = [...a.expr.matchAll(/\b((?:node|prometheus|otelcol|loki|tempodb|tempo)_[a-zA-Z_]*)/g)].map((m) => m[1]);
        assert.ok(metrics.length > 0, name);
        // Counters appear with and without `_total` (collector versions differ); the base name must be queried.
        for (const m of metrics) assert.ok(text.includes(m.replace(/_total$/, "")), `${name} reads ${m}, the host dashboard does not`);
      }
    });
  });

  describe("PromQL parses (promtool check rules)", () => {
    let tmp: { dir: string; cleanup(): void };
    before(() => (tmp = tempDir("dash-promql-")));
    after(() => tmp.cleanup());

    const configs: [string, () => StackConfig][] = [
      ["dev", () => stackConfig("dev")],
      ["prd", () => stackConfig("prd")],
      ["dev plus otel-legacy and postgres-exporter SLOs", () => stackConfig("dev", { slos: [...rawSlos("dev"), ...EXTRA_SLOS] })],
    ];
    for (const [name, cfg] of configs) {
      it(`every Prometheus panel expression parses: ${name}`, function () {
        requireTool(this, "promtool");
        const exprs = buildDashboards(buildSloModels(cfg())).flatMap((d) => promQueries(d).map((q) => concrete(q.expr, d)));
        assert.ok(exprs.length > 50, `${exprs.length} expressions`);
        const r = promtoolCheck(exprs, tmp.dir);
        assert.equal(r.status, 0, r.output);
        assert.match(r.output, new RegExp(`SUCCESS: ${exprs.length} rules found`));
      });
    }

    it("the check rejects a broken expression (so it can fail)", function () {
      requireTool(this, "promtool");
      const r = promtoolCheck(["sum(rate(http_server_request_duration_seconds_count[5m])"], tmp.dir);
      assert.notEqual(r.status, 0);
    });
  });

  describe("shows data: every Prometheus panel query against a real Prometheus with the benchmark's healthy traffic", function () {
    this.timeout(120_000);
    const MINUTES = 6 * 60;
    const PAST_ALERT = { from: 60, to: 120 };
    let tmp: { dir: string; cleanup(): void };
    let prom: PrometheusFixture | undefined;
    let cfg: StackConfig;
    let boards: dashboard.Dashboard[];
    let set: ReturnType<typeof buildSloModels>;
    let start = 0;
    let end = 0;
    const started = Date.now();

    before(async function () {
      requireTool(this, "promtool");
      requireTool(this, "prometheus");
      tmp = tempDir("dash-data-");
      // The dev stack plus a second service with its own team: every service's dashboards show data.
      cfg = twoTeamStackConfig("dev");
      boards = buildDashboards(buildSloModels(cfg));
      set = buildSloModels(cfg);
      end = Math.floor(Date.now() / 60_000) * 60 - 600;
      start = end - MINUTES * 60;
      prom = new PrometheusFixture(tmp.dir);
      // An incident that is over: SloBurnRateSlow of the availability SLO fired from minute 60 to 120.
      const errors = set.slos.find((m) => m.kind === "availability")!;
      const slow = errors.alerts.find((a) => a.alert === "SloBurnRateSlow")!;
      const resolved = pastAlert({ alertname: slow.alert, ...slow.labels }, MINUTES, PAST_ALERT.from, PAST_ALERT.to);
      prom.backfillOpenMetrics(toOpenMetrics([...applicationSeries(cfg.slos, MINUTES), ...stackSeries(MINUTES), resolved], start));
      await prom.start();
      const levels = await prom.backfillRules(
        set.slos.flatMap((m: SloModel) => [...m.records, ...m.windowRecords]),
        start,
        end,
      );
      console.log(`      Prometheus ready with ${MINUTES} min of data and ${levels} levels of SLO records in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
    after(async () => {
      await prom?.stop();
      tmp?.cleanup();
    });

    /** Runs a panel query as Grafana would (range, or instant at the end) over the last 3 hours of data. */
    async function points(expr: string, instant: boolean): Promise<number> {
      if (instant) return seriesWithPoints(await prom!.query(expr, end));
      return seriesWithPoints(await prom!.queryRange(expr, end - 3 * 3600, end, 60));
    }

    it("the check can fail: a misspelt metric returns no data", async () => {
      assert.equal(await points("sum(rate(http_server_request_duration_second_count[5m]))", false), 0);
      assert.ok((await points("sum(rate(http_server_request_duration_seconds_count[5m]))", false)) > 0);
    });

    it("every dashboard but logs/traces: every Prometheus query returns data (range and, for stat/table panels, instant)", async () => {
      for (const d of boards.filter((b) => b.uid !== LOGS_TRACES_DASHBOARD_UID)) {
        // Annotations mark firing alerts: on a healthy system they rightly find nothing (they are parse-checked).
        const queries = promQueries(d).filter((q) => q.kind === "panel");
        assert.ok(queries.length > 0);
        const empty: string[] = [];
        for (const q of queries) {
          const expr = concrete(q.expr, d);
          if ((await points(expr, false)) === 0) empty.push(`${q.panel} ${q.refId} (range): ${expr}`);
          if (q.instant && (await points(expr, true)) === 0) empty.push(`${q.panel} ${q.refId} (instant): ${expr}`);
          // `(x) or vector(0)` would always return data: the series behind it must exist too.
          const inner = orZeroInner(expr);
          if (inner !== undefined && (await points(inner, false)) === 0) empty.push(`${q.panel} ${q.refId} (without "or vector(0)"): ${inner}`);
        }
        assert.deepEqual(empty, [], `${d.uid}: queries with no data:\n${empty.join("\n")}`);
      }
    });

    it("every service dashboard also shows data with every route selected (All)", async () => {
      const empty: string[] = [];
      for (const service of new Set(set.slos.map((m) => m.service))) {
        const d = boards.find((b) => b.uid === serviceDashboardUid(service))!;
        const route = (d.templating!.list as Doc[]).find((x) => x.name === "route")!;
        for (const q of promQueries(d).filter((x) => x.kind === "panel" && x.expr.includes("$route"))) {
          const expr = concrete(q.expr, d, { route: route.allValue });
          if ((await points(expr, q.instant)) === 0) empty.push(`${service} ${q.panel}: ${expr}`);
        }
      }
      assert.deepEqual(empty, []);
    });

    it("each service's route variable lists the SLO route it starts on", async () => {
      for (const service of new Set(set.slos.filter((m) => m.spec.selector.route).map((m) => m.service))) {
        const d = boards.find((b) => b.uid === serviceDashboardUid(service))!;
        const v = (d.templating!.list as Doc[]).find((x) => x.name === "route")!;
        const m = /^label_values\((.*), ([a-z_]+)\)$/.exec(v.definition as string)!;
        assert.ok(m, v.definition);
        const values = await prom!.labelValues(m[2], m[1], start, end);
        const route = set.slos.find((x) => x.service === service && x.spec.selector.route)!.spec.selector.route!;
        assert.ok(values.includes(route), JSON.stringify(values));
        assert.deepEqual(v.current.value, [route]);
      }
    });

    it("a healthy system looks healthy: SLIs above objective, budget left, no burn-rate threshold crossed, no alert firing", async () => {
      const value = async (expr: string) => {
        const r = (await prom!.query(expr, end)).result as Doc[];
        assert.equal(r.length, 1, `${expr}: ${JSON.stringify(r)}`);
        return Number(r[0].value[1]);
      };
      const d = boards.find((b) => b.uid === SLO_DASHBOARD_UID)!;
      const queries = dashboardQueries(d);
      for (const m of set.slos) {
        const own = (title: string) => queries.filter((q) => q.panel === title && q.expr.includes(`"${m.name}"`));
        if (m.ratio) {
          const sli = await value(own(`SLI over ${m.ratio.window}`)[0].expr);
          // Below 1 where the simulator makes bad requests for this SLI (errors; slow ones above its threshold).
          const simBad = m.kind === "availability" || (HEALTHY.slowLe ?? 0.5) > m.ratio.latency!.thresholdSeconds;
          assert.ok(sli > m.ratio.objective && (simBad ? sli < 1 : sli <= 1), `${m.name}: SLI ${sli}`);
          const budget = await value(own(`Error budget remaining (${m.ratio.window})`)[0].expr);
          assert.ok(budget > 0 && budget <= 1, `${m.name}: budget ${budget}`);
          const lowestTier = Math.min(...m.ratio.burnAlerts.map((a) => a.burnRate));
          for (const q of own("Burn rate per alert window")) {
            const burn = await value(q.expr);
            assert.ok(burn >= 0 && burn < lowestTier, `${m.name}: burn rate ${burn} (${q.expr})`);
          }
        } else {
          const sat = await value(own("Pool saturation now")[0].expr);
          assert.ok(sat > 0.3 && sat < m.saturation!.threshold, `${m.name}: saturation ${sat}`);
        }
        for (const q of own("Alerts")) assert.equal(await value(q.expr), 0, `${m.name}: ${q.expr}`);
      }
      // Service overviews: p95 under each latency threshold, p99 above it where the simulator's slow requests
      // (1.5 %, in the bucket up to HEALTHY slowLe) are slower than the threshold; errors ≈ 0.2 %.
      for (const m of set.slos.filter((x) => x.ratio?.latency)) {
        const svc = boards.find((b) => b.uid === serviceDashboardUid(m.service))!;
        const sq = dashboardQueries(svc);
        const latency = sq.filter((q) => q.panel === "Latency p50 / p95 / p99");
        const threshold = m.ratio!.latency!.thresholdSeconds;
        assert.ok((await value(concrete(latency[1].expr, svc))) < threshold, `${m.service}: p95 under the SLO threshold`);
        if ((HEALTHY.slowLe ?? 0.5) > threshold) assert.ok((await value(concrete(latency[2].expr, svc))) > threshold, `${m.service}: p99 above it`);
        const errRatio = await value(concrete(sq.find((q) => q.panel === "Error ratio (5xx)")!.expr, svc));
        assert.ok(errRatio > 0 && errRatio < 0.01, `${m.service}: error ratio ${errRatio}`);
      }
      // Host: 40 % of the data volume used, filling at 1 MiB/min: full in about 21 days.
      const host = boards.find((b) => b.uid === HOST_DASHBOARD_UID)!;
      const hq = dashboardQueries(host);
      const used = await value(hq.find((q) => q.panel === "Data volume used")!.expr);
      assert.ok(Math.abs(used - 0.4) < 0.01, `data volume used ${used}`);
      const fullIn = await value(hq.find((q) => q.panel === "Data volume full in")!.expr);
      assert.ok(fullIn > 20 * 86400 && fullIn < 23 * 86400, `full in ${fullIn / 86400} days`);
    });

    it("the Alerts panels and annotations show a past alert while it fired, for its SLO only", async () => {
      const d = boards.find((b) => b.uid === SLO_DASHBOARD_UID)!;
      const alertQueries = dashboardQueries(d).filter((q) => q.panel === "Alerts");
      const during = { from: start + PAST_ALERT.from * 60, to: start + (PAST_ALERT.to - 1) * 60 };
      const max = async (expr: string) => {
        const r = (await prom!.queryRange(expr, during.from, during.to, 60)).result as Doc[];
        return Math.max(...r.flatMap((s) => (s.values as [number, string][]).map((v) => Number(v[1]))));
      };
      const errors = set.slos.find((m) => m.kind === "availability")!;
      const firingSel = `alertname="SloBurnRateSlow", slo="${errors.name}"`;
      for (const q of alertQueries) {
        const firing = q.expr.includes(firingSel);
        assert.equal(await max(q.expr), firing ? 1 : 0, q.expr);
      }
      assert.ok(alertQueries.some((q) => q.expr.includes(firingSel)));
      for (const b of [d, boards.find((x) => x.uid === serviceDashboardUid(errors.service))!]) {
        const ann = dashboardQueries(b).filter((q) => q.kind === "annotation");
        assert.equal(ann.length, 1, b.uid);
        const marks = seriesWithPoints(await prom!.queryRange(ann[0].expr, during.from, during.to, 60));
        assert.equal(marks, 1, `${b.uid}: annotation ${ann[0].expr}`);
      }
    });
  });
});
