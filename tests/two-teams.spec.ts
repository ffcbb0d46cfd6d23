/**
 * A second service with its own team is a config change only (issue 13): a stack with the committed SLOs plus
 * `billing-api` (its own SLOs, `team: billing`, its own receiver) renders rules, dashboards, routing and runbooks
 * for both services, each team's alerts and dashboards its own. Expectations come from the config, not the demo.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { StackConfig } from "../config/stack-config";
import { routeAlert } from "../config/alert-routing";
import { dashboardQueries } from "../dashboards";
import { dashboardFolder, teamFolder } from "../dashboards/index";
import { renderRunbooks, RUNBOOK_FOLDER } from "../dashboards/runbooks";
import { serviceDashboardUid } from "../dashboards/service-overview";
import { SLO_DASHBOARD_UID, sloRunbookLinks } from "../dashboards/slos";
import { GRAFANA_DASHBOARDS_DIR, PROMETHEUS_RULES_DIR, SERVICES } from "../layout/host-layout";
import { renderHostFiles } from "../hostfiles/host-files";
import { runbookUid, runbookUrl, splitSections } from "../rules/runbook-links";
import { placeholderBundleContext, type HostFile } from "../layout/host-file";
import { buildSloModels } from "../rules/slo-model";
import { BILLING, twoTeamStackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

type Doc = Record<string, any>;

/** Every fenced block of a language in a markdown text. */
function blocks(md: string, lang: string): string[] {
  return [...md.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);
}

/** The PromQL of every `curl … --data-urlencode 'query=…'` in shell blocks (single-quoted as the runbooks write it). */
function promqlOf(sh: string): string[] {
  return [...sh.matchAll(/--data-urlencode '(?:query|match\[\])=((?:[^']|'\\'')*)'/g)].map((m) => m[1].replace(/'\\''/g, "'"));
}

for (const stack of ["dev", "prd"]) {
  describe(`two services, two teams (${stack} + ${BILLING.service})`, () => {
    let cfg: StackConfig;
    let files: HostFile[];
    const services = () => [...new Set(cfg.slos.map((s) => s.service))];
    before(() => {
      cfg = twoTeamStackConfig(stack);
      files = renderHostFiles(cfg, placeholderBundleContext(stack));
    });

    it("rules: one rule file per service, each with its own SLOs and routing labels; promtool accepts them", function () {
      const ruleFiles = files.filter((f) => f.path.startsWith(`${PROMETHEUS_RULES_DIR}/slo-`));
      assert.deepEqual(ruleFiles.map((f) => f.path), services().map((s) => `${PROMETHEUS_RULES_DIR}/slo-${s}.yml`));
      for (const f of ruleFiles) {
        const rules = (YAML.parse(f.content).groups as Doc[]).flatMap((g) => g.rules as Doc[]);
        const alerts = rules.filter((r) => r.alert);
        const service = alerts[0].labels.service;
        assert.ok(alerts.every((a) => a.labels.service === service), f.path);
        const specs = cfg.slos.filter((s) => s.service === service);
        assert.deepEqual([...new Set(alerts.map((a) => a.labels.slo).filter((x: string) => !x.includes(",")))].sort(), specs.map((s) => s.name).sort());
        for (const a of alerts) for (const [k, v] of Object.entries(specs[0].alerting.labels)) assert.equal(a.labels[k], v, `${a.alert} ${k}`);
      }
      requireTool(this, "promtool");
      const t = tempDir("two-teams-rules-");
      try {
        const paths = ruleFiles.map((f, i) => {
          const p = path.join(t.dir, `${i}.yml`);
          fs.writeFileSync(p, f.content);
          return p;
        });
        const r = run("promtool", ["check", "rules", ...paths]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
      } finally {
        t.cleanup();
      }
    });

    it("routing: the billing team's alerts reach its receiver only, the other team's and the host's never do", () => {
      const am = YAML.parse(files.find((f) => f.path === SERVICES.alertmanager.config)!.content) as Doc;
      const routes = am.route.routes as Doc[];
      assert.ok(routes.some((r) => r.receiver === BILLING.receiver && r.matchers.includes(`team="${BILLING.team}"`)), JSON.stringify(routes));
      for (const m of buildSloModels(cfg).slos) {
        for (const a of m.alerts) {
          const to = routeAlert({ alertname: a.alert, ...a.labels }, cfg.alerting.receivers).receivers;
          if (m.service === BILLING.service) assert.deepEqual(to, [BILLING.receiver], `${m.name} ${a.alert}`);
          else assert.ok(to.length > 0 && !to.includes(BILLING.receiver), `${m.name} ${a.alert} → ${to}`);
        }
      }
    });

    it("dashboards: a service dashboard per service in its team's folder; SLO panels link each SLO's runbooks", () => {
      const dashFiles = files.filter((f) => f.path.startsWith(`${GRAFANA_DASHBOARDS_DIR}/`));
      for (const svc of services()) {
        const uid = serviceDashboardUid(svc);
        const team = cfg.slos.find((s) => s.service === svc)!.alerting.labels.team;
        const expectedDir = team ? teamFolder(team) : "Monitoring";
        assert.equal(dashboardFolder(cfg, uid), expectedDir);
        assert.ok(dashFiles.some((f) => f.path === `${GRAFANA_DASHBOARDS_DIR}/${expectedDir}/${uid}.json`), `${svc} dashboard in ${expectedDir}`);
        const d = JSON.parse(dashFiles.find((f) => f.path.endsWith(`/${uid}.json`))!.content);
        assert.ok(dashboardQueries(d).some((q) => q.expr.includes(`job="${svc}"`)), `${svc} dashboard queries its job`);
      }
      assert.ok(dashFiles.some((f) => f.path === `${GRAFANA_DASHBOARDS_DIR}/${teamFolder(BILLING.team)}/${serviceDashboardUid(BILLING.service)}.json`));
      const slo = JSON.parse(dashFiles.find((f) => f.path.endsWith(`/${SLO_DASHBOARD_UID}.json`))!.content) as Doc;
      const runbookFiles = new Set(dashFiles.filter((f) => f.path.startsWith(`${GRAFANA_DASHBOARDS_DIR}/${RUNBOOK_FOLDER}/`)).map((f) => path.basename(f.path, ".json")));
      const panels = (slo.panels as Doc[]).filter((p) => p.type !== "row");
      for (const m of buildSloModels(cfg).slos) {
        const own = panels.filter((p) => (p.targets as Doc[]).some((t) => String(t.expr).includes(m.seriesSelector)));
        assert.ok(own.length > 0, m.name);
        const expected = sloRunbookLinks(m);
        for (const p of own) assert.deepEqual((p.links as Doc[]).map((l) => l.url), expected.map((l) => l.url), `${m.name} / ${p.title}`);
        for (const l of expected) assert.ok(runbookFiles.has(l.url.replace("/d/", "")), `${l.url} is no runbook dashboard`);
      }
    });

    it("runbooks: each SLO's names its service, route, method and objective, with its exact queries, and no other service", () => {
      const set = buildSloModels(cfg);
      const runbooks = renderRunbooks(cfg, buildSloModels(cfg));
      for (const m of set.slos) {
        const own = runbooks.filter((r) => r.ref.slo === m.name);
        assert.ok(own.length >= 2, `${m.name}: ${own.length} runbooks`);
        for (const rb of own) {
          const md = rb.markdown;
          assert.ok(md.includes(`\`${m.service}\``), `${m.name}: service`);
          if (m.spec.selector.route) assert.ok(md.includes(`\`${m.spec.selector.route}\``), `${m.name}: route`);
          if (m.spec.selector.method) assert.ok(md.includes(`\`${m.spec.selector.method}\``), `${m.name}: method`);
          if (m.ratio) assert.ok(md.includes(`${+(m.ratio.objective * 100).toFixed(4)} % good over ${m.ratio.window}`), `${m.name}: objective`);
          const sh = blocks(md, "sh").join("\n");
          assert.ok(sh.includes(`"${m.name}"`) || sh.includes(`slo=${m.name}`), `${m.name}: commands select the SLO`);
          for (const q of promqlOf(sh).filter((x) => x.includes("job="))) assert.ok(q.includes(`job="${m.service}"`) || q.includes(`job="${m.spec.selector.job}"`), `${m.name}: ${q}`);
          for (const other of services().filter((s) => s !== m.service)) assert.ok(!md.includes(other), `${rb.ref.file} of ${m.name} mentions ${other}`);
          for (const a of m.alerts.filter((x) => runbookUrl(cfg, x.runbook) === runbookUrl(cfg, rb.ref))) assert.ok(md.includes(a.alert));
        }
      }
      for (const svc of set.services.filter((s) => s.alert)) {
        const rb = runbooks.find((r) => r.ref.service === svc.service)!;
        assert.equal(runbookUrl(cfg, svc.alert!.runbook), runbookUrl(cfg, rb.ref));
        assert.ok(blocks(rb.markdown, "sh").join("\n").includes(`job == "${svc.service}"`));
      }
    });

    it("runbooks: every generated query parses (promtool), every shell block parses (bash -n, shellcheck)", function () {
      requireTool(this, "promtool");
      requireTool(this, "shellcheck");
      const t = tempDir("two-teams-runbooks-");
      try {
        const generated = renderRunbooks(cfg, buildSloModels(cfg)).filter((r) => r.ref.slo || r.ref.service);
        const exprs = [...new Set(generated.flatMap((r) => blocks(r.markdown, "sh").flatMap(promqlOf)))].filter((q) => !q.includes("__name__=~") || true);
        assert.ok(exprs.length > 10);
        const rules = path.join(t.dir, "queries.yml");
        // Label-only selectors like {__name__=~"…", slo="…"} are valid queries but cannot be recording rules' only
        // matcher-less form: all of them have a name or a non-empty matcher, which promtool accepts.
        fs.writeFileSync(rules, YAML.stringify({ groups: [{ name: "runbook-queries", rules: exprs.map((expr, i) => ({ record: `runbook_query_${i}`, expr })) }] }));
        const r = run("promtool", ["check", "rules", rules]);
        assert.equal(r.status, 0, r.stdout + r.stderr);
        generated.forEach((rb, i) => {
          // The generated commands: the "First …" section (Connect has placeholders only a deploy fills in).
          const first = splitSections(rb.markdown).sections.find((x) => /^First /.test(x.heading))!;
          assert.ok(first, `${rb.ref.file}: no First section`);
          blocks(first.body, "sh").forEach((sh, j) => {
            const file = path.join(t.dir, `rb-${i}-${j}.sh`);
            fs.writeFileSync(file, `#!/bin/bash\n${sh}`);
            const n = run("bash", ["-n", file]);
            assert.equal(n.status, 0, `${rb.ref.slo ?? rb.ref.service} ${rb.ref.file}: ${n.stderr}\n${sh}`);
            const sc = run("shellcheck", ["-S", "warning", file]);
            assert.equal(sc.status, 0, `${rb.ref.slo ?? rb.ref.service} ${rb.ref.file}: ${sc.stdout}`);
          });
        });
      } finally {
        t.cleanup();
      }
    });

    it("runbooks are served by the host's Grafana: every alert's link opens a runbook dashboard in the bundle", () => {
      assert.equal(cfg.runbookBaseUrl, undefined, "the committed stacks use the Grafana-served runbooks");
      const uids = new Set(files.filter((f) => f.path.startsWith(`${GRAFANA_DASHBOARDS_DIR}/${RUNBOOK_FOLDER}/`)).map((f) => path.basename(f.path, ".json")));
      const set = buildSloModels(cfg);
      const urls = [...set.slos.flatMap((m) => m.alerts), ...set.services.map((s) => s.alert!).filter(Boolean)].map((a) => runbookUrl(cfg, a.runbook));
      for (const url of urls) {
        const m = /^http:\/\/localhost:(\d+)\/d\/([a-z0-9-]+)$/.exec(url);
        assert.ok(m, url);
        assert.equal(Number(m[1]), SERVICES.grafana.ports.http);
        assert.ok(uids.has(m[2]), `${url}: no runbook dashboard ${m[2]}`);
      }
      for (const r of renderRunbooks(cfg, buildSloModels(cfg))) assert.ok(uids.has(runbookUid(r.ref)));
    });
  });
}
