/**
 * Routing by team/service (issue 13): receivers select alerts by labels as well as severity, with a fallback; the
 * config validation proves every SLO alert reaches a receiver that takes its severity, naming the key otherwise.
 * The pure routing function the validation uses is checked against the real Alertmanager routing tree
 * (`amtool config routes test` on the rendered alertmanager.yml) for every alert the rendered rule files hold.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "../config/config-problems";
import { StackConfig } from "../config/stack-config";
import { routeAlert, sloAlertLabels } from "../config/alert-routing";
import { alertmanagerView, renderAlertmanagerConfig } from "../hostfiles/services/alertmanager";
import { PROMETHEUS_RULES_DIR } from "../layout/host-layout";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderBundleContext } from "../layout/host-file";
import { BILLING, rawStackValue, receiverSecrets, stackConfig, twoTeamStackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

const RECEIVERS = "monitoring-hosts:alertReceivers";
const SLOS = "monitoring-hosts:slos";

/** Label sets of every alert rule the stack renders (SLO rules and the host's own alerts). */
function renderedAlertLabels(cfg: StackConfig): Record<string, string>[] {
  return renderHostFiles(cfg, placeholderBundleContext(cfg.stack))
    .filter((f) => f.path.startsWith(`${PROMETHEUS_RULES_DIR}/`))
    .flatMap((f) => (YAML.parse(f.content).groups as { rules: { alert?: string; labels?: Record<string, string> }[] }[]).flatMap((g) => g.rules))
    .filter((r) => r.alert)
    .map((r) => ({ alertname: r.alert!, ...(r.labels ?? {}) }));
}

function loadProblems(stack: string, overrides: Record<string, unknown>, receivers: { name: string; type: string }[]): Record<string, string[]> {
  try {
    stackConfig(stack, overrides, { alertReceiverSecrets: receiverSecrets(receivers) });
    return {};
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const out: Record<string, string[]> = {};
    for (const p of e.problems) (out[p.key] ??= []).push(p.message);
    return out;
  }
}

describe("alert routing by labels (team, service, slo) with a fallback receiver", () => {
  const stacks: [string, () => StackConfig][] = [
    ["dev", () => stackConfig("dev")],
    ["prd", () => stackConfig("prd")],
    ["dev + billing team", () => twoTeamStackConfig("dev")],
    ["prd + billing team", () => twoTeamStackConfig("prd")],
  ];

  for (const [name, load] of stacks) {
    it(`${name}: amtool routes every rendered alert where the validation's routing function says`, function () {
      this.timeout(120_000);
      requireTool(this, "amtool");
      const cfg = load();
      const t = tempDir("routing-");
      try {
        const file = path.join(t.dir, "alertmanager.yml");
        fs.writeFileSync(file, renderAlertmanagerConfig(alertmanagerView(cfg)));
        const seen = new Set<string>();
        const labelSets = renderedAlertLabels(cfg)
          // An alert without its SLO's labels, and one with a severity nobody routes: both end at the root.
          .concat([{ alertname: "Unknown", severity: "page", team: "nobody" }, { alertname: "Typo", severity: "pager" }])
          .filter((l) => {
            const key = JSON.stringify(l);
            return !seen.has(key) && !!seen.add(key);
          });
        assert.ok(labelSets.length > 10);
        for (const labels of labelSets) {
          const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
          const r = run("amtool", ["config", "routes", "test", `--config.file=${file}`, ...args]);
          assert.equal(r.status, 0, r.stderr);
          const amtool = r.stdout.trim().split(",").map((s) => s.trim()).filter(Boolean);
          const ours = routeAlert(labels, cfg.alerting.receivers).receivers;
          const expected = ours.length ? ours : ["discard"];
          assert.deepEqual([...amtool].sort(), [...expected].sort(), `${JSON.stringify(labels)}: amtool says ${amtool}, the validation says ${expected}`);
        }
      } finally {
        t.cleanup();
      }
    });
  }

  it("the validation checks exactly the label sets the rendered SLO rules carry (config/slo-alerts.ts is the one convention)", () => {
    const variants: StackConfig[] = [
      ...stacks.map(([, load]) => load()),
      twoTeamStackConfig("dev", { appScrapeTargets: [{ service: BILLING.service, targets: ["10.0.1.5:8080"] }] }),
      stackConfig("dev", { slos: rawStackValue<Record<string, unknown>[]>("dev", "slos").map((s) => ({ ...s, health: "none" })) }),
    ];
    for (const cfg of variants) {
      const rendered = renderHostFiles(cfg, placeholderBundleContext(cfg.stack))
        .filter((f) => f.path.startsWith(`${PROMETHEUS_RULES_DIR}/slo-`))
        .flatMap((f) => (YAML.parse(f.content).groups as { rules: { alert?: string; labels?: Record<string, string> }[] }[]).flatMap((g) => g.rules))
        .filter((r) => r.alert)
        .map((r) => JSON.stringify({ alertname: r.alert!, ...(r.labels ?? {}) }));
      const checked = sloAlertLabels(cfg.slos, (cfg.appScrapeTargets ?? []).map((t) => t.service)).map((a) => JSON.stringify(a.labels));
      assert.ok(rendered.length >= cfg.slos.length * 2, `${cfg.stack}: ${rendered.length} SLO alerts`);
      assert.deepEqual([...checked].sort(), [...rendered].sort(), cfg.stack);
    }
  });

  it("a second team's SLO alerts reach its own receiver only; the first team's and the host's go elsewhere", () => {
    for (const stack of ["dev", "prd"]) {
      const cfg = twoTeamStackConfig(stack);
      const alerts = renderedAlertLabels(cfg);
      const billing = alerts.filter((a) => a.service === BILLING.service && (a.severity === "page" || a.severity === "ticket"));
      assert.ok(billing.some((a) => a.severity === "page"), "billing has page alerts");
      for (const a of billing) assert.deepEqual(routeAlert(a, cfg.alerting.receivers).receivers, [BILLING.receiver], JSON.stringify(a));
      const others = alerts.filter((a) => a.service !== BILLING.service && a.severity !== "watchdog");
      assert.ok(others.length > 0);
      for (const a of others) {
        const to = routeAlert(a, cfg.alerting.receivers).receivers;
        assert.ok(to.length > 0 && !to.includes(BILLING.receiver), `${JSON.stringify(a)} goes to ${to}`);
      }
    }
  });

  it("refuses an SLO whose page alerts no page-taking receiver selects, naming the SLO's key", () => {
    // prd-like: the only page receiver pages the appointments team; a billing SLO with no billing pager.
    const receivers = [
      { name: "appointments-pager", type: "pagerduty", severities: ["page"], match: { team: "appointments" } },
      { name: "all-tickets", type: "slack", channel: "#alerts", severities: ["ticket"] },
    ];
    const slos = [...rawStackValue<unknown[]>("prd", "slos"), ...BILLING.slos];
    const got = loadProblems("prd", { alertReceivers: receivers, slos }, receivers);
    const base = rawStackValue<unknown[]>("prd", "slos").length;
    for (let i = 0; i < BILLING.slos.length; i++) {
      const msgs = got[`${SLOS}[${base + i}]`] ?? [];
      assert.ok(msgs.some((m) => /page alert .*team="billing".* reaches no receiver that takes severity "page"/.test(m)), JSON.stringify(got));
    }
    // The appointments SLOs are routed: no problem names them.
    for (let i = 0; i < base; i++) assert.equal(got[`${SLOS}[${i}]`], undefined, JSON.stringify(got));
    // With a billing pager, the same stack loads.
    const fixed = [...receivers, { name: "billing-pager", type: "pagerduty", severities: ["page"], match: { team: "billing" } }];
    assert.deepEqual(loadProblems("prd", { alertReceivers: fixed, slos }, fixed), {});
  });

  it("refuses a stack without a fallback receiver, and bad match fields, naming the key", () => {
    const receivers = [
      { name: "a", type: "slack", channel: "#a", severities: ["page", "ticket"], match: { team: "appointments" } },
      { name: "b", type: "slack", channel: "#b", severities: ["ticket"], match: { team: "x", severity: "page", "bad-label": "x", service: "" } },
    ];
    const got = loadProblems("prd", { alertReceivers: receivers }, receivers);
    assert.ok(got[RECEIVERS]?.some((m) => /add a fallback receiver without `match`/.test(m)), JSON.stringify(got));
    assert.ok(got[`${RECEIVERS}[1].match.severity`]?.[0].includes("severities"));
    assert.ok(got[`${RECEIVERS}[1].match.bad-label`]?.[0].includes("label name"));
    assert.ok(got[`${RECEIVERS}[1].match.service`]?.[0].includes("non-empty string"));
    const notObject = [{ name: "a", type: "slack", channel: "#a", severities: ["page", "ticket"], match: "team=x" }];
    assert.ok(loadProblems("dev", { alertReceivers: notObject }, notObject)[`${RECEIVERS}[0].match`]);
  });
});
