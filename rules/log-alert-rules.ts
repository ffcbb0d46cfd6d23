/**
 * The log alerts as a Loki ruler rule file (Prometheus rule-file format, LogQL expressions): one group per service,
 * in the ruler's local rule storage on the data volume (LOKI_RULER in layout/host-layout.ts).
 *
 * Only alerting rules: each alert's expression reads Loki directly, so it works while Prometheus is down, and no
 * recorded series has to travel to Prometheus by remote-write (which would add a ruler WAL and a write endpoint
 * on Prometheus for nothing an alert needs).
 */
import type { StackConfig } from "../config/stack-config";
import { promDuration } from "../config/duration";
import type { LogAlertSpec } from "../config/log-alert-spec";
import { LOKI_RULES_FILE, SERVICES } from "../layout/host-layout";
import type { HostFile } from "../layout/host-file";
import type { RunbookLink } from "./runbook-links";
import { ruleFileText, type AlertRule, type RuleGroup } from "./rule-file";

/** The LogQL metric query: matching lines counted (or their rate) per service over the window, above the threshold. */
export function logAlertExpr(s: Pick<LogAlertSpec, "selector" | "filter" | "measure" | "window" | "threshold">): string {
  const range = `${[s.selector, s.filter].filter(Boolean).join(" ")} [${promDuration(s.window.seconds)}]`;
  const fn = s.measure === "rate" ? "rate" : "count_over_time";
  return `sum by (service_name) (${fn}(${range})) > ${s.threshold}`;
}

/** A log alert's `runbook`: a shared runbook of docs/runbooks/ (linked like every other alert's), or a URL as it is. */
export function logAlertRunbook(runbook: string): RunbookLink {
  return /^https?:\/\//.test(runbook) ? { url: runbook } : { file: `${runbook}.md` };
}

export function logAlertRule(s: LogAlertSpec): AlertRule {
  return {
    alert: s.alert,
    expr: logAlertExpr(s),
    for: promDuration(s.for.seconds),
    // The generator's labels last: routing labels cannot override them (the config loader refuses them anyway).
    labels: { ...s.labels, severity: s.severity, service: s.service, log_alert: s.name },
    annotations: { summary: s.summary, description: s.description },
    runbook: logAlertRunbook(s.runbook),
  };
}

/** One group per service, in the order the alerts are listed. */
export function logRuleGroups(cfg: Pick<StackConfig, "logAlerts">): RuleGroup[] {
  const groups = new Map<string, RuleGroup>();
  for (const s of cfg.logAlerts) {
    const name = `logs:${s.service}`;
    if (!groups.has(name)) groups.set(name, { name, rules: [] });
    groups.get(name)!.rules.push(logAlertRule(s));
  }
  return [...groups.values()];
}

/**
 * The rule file. No `onChange`: the ruler re-reads its rule storage every `poll_interval` and applies what changed
 * (Ruler.run → syncRules in pkg/ruler/base/ruler.go), so Loki needs no restart. Without log alerts the file still
 * exists with no groups, so a removed last alert is removed on the host too.
 */
export function lokiRuleFiles(cfg: Pick<StackConfig, "logAlerts" | "runbookBaseUrl">): HostFile[] {
  return [
    {
      path: LOKI_RULES_FILE,
      content: ruleFileText(["Generated from the stack's `logAlerts` config and its defaults (docs/log-alerts.md). Do not edit on the host."], logRuleGroups(cfg), cfg),
      mode: "0640",
      owner: `root:${SERVICES.loki.user}`,
    },
  ];
}
