/**
 * The log alerts as a Loki ruler rule file (Prometheus rule-file format, LogQL expressions): one group per service,
 * in the ruler's local rule storage on the data volume (LOKI_RULER in hostfiles/services/loki.ts).
 *
 * Only alerting rules: each alert's expression reads Loki directly, so it works while Prometheus is down, and no
 * recorded series has to travel to Prometheus by remote-write (which would add a ruler WAL and a write endpoint
 * on Prometheus for nothing an alert needs).
 */
import * as YAML from "yaml";
import type { StackConfig } from "../config/stack-config";
import { LOKI_RULES_FILE, SERVICES } from "../layout/host-layout";
import { runbookUrl as sharedRunbookUrl } from "./runbook-links";
import type { HostFile } from "../layout/host-file";
import type { LogAlertSpec } from "../config/log-alert-spec";

export interface LogAlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface LogRuleGroup {
  name: string;
  rules: LogAlertRule[];
}

/** `5m`, `90s`: LogQL ranges and rule durations in the units both accept. */
export function durationText(seconds: number): string {
  if (seconds === 0) return "0s";
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The LogQL metric query: matching lines counted (or their rate) per service over the window, above the threshold. */
export function logAlertExpr(s: Pick<LogAlertSpec, "selector" | "filter" | "measure" | "window" | "threshold">): string {
  const range = `${[s.selector, s.filter].filter(Boolean).join(" ")} [${durationText(s.window.seconds)}]`;
  const fn = s.measure === "rate" ? "rate" : "count_over_time";
  return `sum by (service_name) (${fn}(${range})) > ${s.threshold}`;
}

export function runbookUrl(runbook: string, cfg: Pick<StackConfig, "runbookBaseUrl">): string {
  // A shared runbook of docs/runbooks/ is linked like every other alert's (rules/runbook-links.ts).
  return /^https?:\/\//.test(runbook) ? runbook : sharedRunbookUrl(cfg, { file: `${runbook}.md` });
}

export function logAlertRule(s: LogAlertSpec, cfg: Pick<StackConfig, "runbookBaseUrl">): LogAlertRule {
  return {
    alert: s.alert,
    expr: logAlertExpr(s),
    for: durationText(s.for.seconds),
    // The generator's labels last: routing labels cannot override them (the config loader refuses them anyway).
    labels: { ...s.labels, severity: s.severity, service: s.service, log_alert: s.name },
    annotations: { summary: s.summary, description: s.description, runbook_url: runbookUrl(s.runbook, cfg) },
  };
}

/** One group per service, in the order the alerts are listed. */
export function logRuleGroups(cfg: Pick<StackConfig, "logAlerts" | "runbookBaseUrl">): LogRuleGroup[] {
  const groups = new Map<string, LogRuleGroup>();
  for (const s of cfg.logAlerts) {
    const name = `logs:${s.service}`;
    if (!groups.has(name)) groups.set(name, { name, rules: [] });
    groups.get(name)!.rules.push(logAlertRule(s, cfg));
  }
  return [...groups.values()];
}

/**
 * The rule file. No `onChange`: the ruler re-reads its rule storage every `poll_interval` and applies what changed
 * (Ruler.run → syncRules in pkg/ruler/base/ruler.go), so Loki needs no restart. Without log alerts the file still
 * exists with no groups, so a removed last alert is removed on the host too.
 */
export function lokiRuleFiles(cfg: Pick<StackConfig, "logAlerts" | "runbookBaseUrl">): HostFile[] {
  const doc = { groups: logRuleGroups(cfg) };
  return [
    {
      path: LOKI_RULES_FILE,
      content:
        "# Generated from the stack's `logAlerts` config and its defaults (docs/log-alerts.md). Do not edit on the host.\n" +
        YAML.stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }),
      mode: "0640",
      owner: `root:${SERVICES.loki.user}`,
    },
  ];
}
