/**
 * One rule model, one serialiser (rules/rule-file.ts): every alert of every kind — SLO, the host's own (meta),
 * remote write, and the log alerts of Loki's ruler — is written by `ruleFileText`, which attaches `runbook_url` in
 * one pass from the runbook the alert names. Checked on the rendered files of stacks with and without
 * runbookBaseUrl, with remote write, and with a log alert whose runbook is a URL elsewhere.
 */
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import type { StackConfig } from "../config/stack-config";
import { renderHostFiles } from "../hostfiles/host-files";
import { placeholderBundleContext } from "../layout/host-file";
import { LOKI_RULES_FILE, PROMETHEUS_RULES_DIR } from "../layout/host-layout";
import { logRuleGroups } from "../rules/log-alert-rules";
import { META_ALERT_GROUPS } from "../rules/meta-alerts";
import { REMOTE_WRITE_ALERT_GROUP } from "../hostfiles/services/remote-write";
import { alertsOf, type AlertRule } from "../rules/rule-file";
import { runbookUrl } from "../rules/runbook-links";
import { buildSloModels } from "../rules/slo-model";
import { stackConfig, twoTeamStackConfig } from "./support/stacks";

const ROOT = path.resolve(__dirname, "..");
type Doc = Record<string, any>;

/** The stacks: committed ones, and variants that exercise every kind of alert and both kinds of link. */
function stacks(): [string, StackConfig][] {
  const elsewhere = {
    name: "checkout-panics",
    service: "checkout",
    selector: '{service_name="checkout"}',
    filter: '|= "panic"',
    threshold: 0,
    runbook: "https://runbooks.acme-corp.net/checkout/panics",
  };
  return [
    ["dev", stackConfig("dev")],
    ["prd", stackConfig("prd")],
    ["dev + remote write + runbookBaseUrl", stackConfig("dev", { remoteWrite: { workspace: "ws-b226cc2a-a446-46a9-933a-ac50479a5568" }, runbookBaseUrl: "https://runbooks.acme-corp.net/rb" })],
    ["prd + billing team + a log alert linking a page elsewhere", twoTeamStackConfig("prd", { logAlerts: [elsewhere] })],
  ];
}

/** Every alert rule as rendered, by file kind. */
function renderedAlerts(cfg: StackConfig): { kind: string; rule: Doc }[] {
  const kindOf = (p: string) =>
    p === LOKI_RULES_FILE ? "log" : !p.startsWith(`${PROMETHEUS_RULES_DIR}/`) ? undefined : path.basename(p).startsWith("slo-") ? "slo" : path.basename(p, ".yml");
  return renderHostFiles(cfg, placeholderBundleContext(cfg.stack)).flatMap((f) => {
    const kind = kindOf(f.path);
    if (!kind) return [];
    return (YAML.parse(f.content).groups as Doc[]).flatMap((g) => (g.rules as Doc[]).filter((r) => r.alert).map((rule) => ({ kind, rule })));
  });
}

/** Every alert the generators declare, by kind (the models, before serialising). */
function declaredAlerts(cfg: StackConfig): { kind: string; alert: AlertRule }[] {
  const slo = buildSloModels(cfg);
  return [
    ...[...slo.slos.flatMap((m) => m.alerts), ...slo.services.flatMap((s) => (s.alert ? [s.alert] : []))].map((alert) => ({ kind: "slo", alert })),
    ...alertsOf(META_ALERT_GROUPS).map((alert) => ({ kind: "meta", alert })),
    ...(cfg.remoteWrite ? alertsOf([REMOTE_WRITE_ALERT_GROUP]).map((alert) => ({ kind: "remote-write", alert })) : []),
    ...alertsOf(logRuleGroups(cfg)).map((alert) => ({ kind: "log", alert })),
  ];
}

const key = (kind: string, alert: string, labels: Record<string, string>) => JSON.stringify([kind, alert, labels]);

describe("rule files: one rule model, one serialiser, runbook links in one pass", () => {
  for (const [name, cfg] of stacks()) {
    it(`${name}: every rendered alert of every kind carries the runbook_url of the runbook its model names`, () => {
      const rendered = renderedAlerts(cfg);
      const declared = new Map(declaredAlerts(cfg).map((d) => [key(d.kind, d.alert.alert, d.alert.labels), d.alert]));
      const kinds = new Set(rendered.map((r) => r.kind));
      for (const k of ["slo", "meta", "log", ...(cfg.remoteWrite ? ["remote-write"] : [])]) assert.ok(kinds.has(k), `${name}: no ${k} alert rendered`);
      assert.equal(rendered.length, declared.size, `${name}: rendered alerts and declared alerts differ in number`);
      for (const { kind, rule } of rendered) {
        const model = declared.get(key(kind, rule.alert, rule.labels));
        assert.ok(model, `${kind} ${rule.alert} ${JSON.stringify(rule.labels)} is rendered but no generator declares it`);
        // The model's own annotations, then runbook_url last: nothing else adds or changes an annotation.
        assert.deepEqual(Object.keys(rule.annotations), [...Object.keys(model.annotations), "runbook_url"], rule.alert);
        assert.equal(rule.annotations.runbook_url, runbookUrl(cfg, model.runbook), `${kind} ${rule.alert}`);
        if (cfg.runbookBaseUrl && !("url" in model.runbook)) assert.ok(rule.annotations.runbook_url.startsWith(`${cfg.runbookBaseUrl}/`), rule.annotations.runbook_url);
      }
      const elsewhere = rendered.find((r) => r.rule.labels.log_alert === "checkout-panics");
      if (cfg.logAlerts.some((a) => a.name === "checkout-panics")) assert.equal(elsewhere?.rule.annotations.runbook_url, "https://runbooks.acme-corp.net/checkout/panics");
    });
  }

  it("no generator writes runbook_url itself: the key is set in rules/rule-file.ts only", () => {
    const product = ["layout", "config", "rules", "dashboards", "hostfiles", "components"].flatMap((d) =>
      fs.readdirSync(path.join(ROOT, d), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => path.join(d, f)),
    );
    const writers = product.filter((f) => /\brunbook_url\s*:/.test(fs.readFileSync(path.join(ROOT, f), "utf8")));
    assert.deepEqual(writers, ["rules/rule-file.ts"]);
  });
});
