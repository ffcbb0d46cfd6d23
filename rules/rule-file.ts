/**
 * The one model of a rule and the one serialiser of rule files: Prometheus' rule-file format (rulefmt), which
 * Loki's ruler reads too. SLO rules, the monitoring host's own alerts, the remote-write alerts and the log alerts
 * are all `RuleGroup`s written by `ruleFileText`.
 *
 * An alert says which runbook it links (`runbook`), never the link itself: `ruleFileText` attaches `runbook_url`
 * to every alert of every file in one pass (like the kubernetes-mixin's add-runbook-links), from the stack's
 * `runbookBaseUrl` (rules/runbook-links.ts).
 */
import * as YAML from "yaml";
import type { RoutedSeverity } from "../config/severities";
import type { StackConfig } from "../config/stack-config";
import { runbookUrl, type RunbookLink } from "./runbook-links";

export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold; omitted: fires at the first evaluation. */
  for?: string;
  /** `keep_firing_for`: how long it keeps firing after the condition cleared. */
  keepFiringFor?: string;
  /** `severity` is what Alertmanager routes on (config/alert-routing.ts); the rest select receivers or describe. */
  labels: Record<string, string> & { severity: RoutedSeverity };
  /** Go templates; `{{ $value }}` is the measured value. */
  annotations: { summary: string; description: string };
  /** The runbook the alert links (`runbook_url`, attached by the serialiser). */
  runbook: RunbookLink;
}

export interface RecordingRule {
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export type Rule = AlertRule | RecordingRule;

export interface RuleGroup {
  name: string;
  /** Evaluation interval; omitted: the global one. */
  interval?: string;
  rules: Rule[];
}

type RunbookConfig = Pick<StackConfig, "runbookBaseUrl">;

/** An alert's annotations as written: its own, then `runbook_url` (the one place a link is made). */
export function alertAnnotations(a: AlertRule, cfg: RunbookConfig): Record<string, string> {
  return { ...a.annotations, runbook_url: runbookUrl(cfg, a.runbook) };
}

/** A rule with rulefmt's keys, in rulefmt's order. */
function rulefmt(r: Rule, cfg: RunbookConfig): Record<string, unknown> {
  if ("record" in r) return { record: r.record, expr: r.expr, labels: r.labels };
  return {
    alert: r.alert,
    expr: r.expr,
    ...(r.for ? { for: r.for } : {}),
    ...(r.keepFiringFor ? { keep_firing_for: r.keepFiringFor } : {}),
    labels: r.labels,
    annotations: alertAnnotations(r, cfg),
  };
}

/** Every alert of the groups, in file order. */
export function alertsOf(groups: RuleGroup[]): AlertRule[] {
  return groups.flatMap((g) => g.rules.filter((r): r is AlertRule => "alert" in r));
}

/** A rule file: `header` as comment lines, then the groups (`groups: []` when there are none). */
export function ruleFileText(header: string[], groups: RuleGroup[], cfg: RunbookConfig): string {
  const doc = {
    groups: groups.map((g) => ({ name: g.name, ...(g.interval ? { interval: g.interval } : {}), rules: g.rules.map((r) => rulefmt(r, cfg)) })),
  };
  return header.map((line) => `# ${line}\n`).join("") + YAML.stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}
