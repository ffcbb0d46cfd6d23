/**
 * SLO alerting as data (docs/slos.md): the stack's `slos` list becomes Prometheus recording rules and multi-window,
 * multi-burn-rate alerts in PROMETHEUS_RULES_DIR. `sloRuleSet` exposes the generated model (SLI expressions,
 * recorded series, burn-rate windows, alert names) for the dashboard generator.
 */
import type { StackConfig } from "../components/config";
import type { HostFile } from "../hostfiles/types";
import { renderRuleFiles, sloRuleSet } from "./rules";

export { parseSlos, SLI_KINDS, METRIC_CONVENTIONS, OTEL_DEFAULT_BUCKETS } from "./spec";
export type { SloSpec, SliKind, MetricConvention, SloSelector, SloAlerting, HealthSignal } from "./spec";
export {
  BURN_TIERS,
  RATE_WINDOWS,
  RECORDS,
  ALERT_NAMES,
  RUNBOOKS,
  HTTP_METRICS,
  seriesMatcher,
  LONG_WINDOW_SECONDS,
  buildSloModel,
  buildServiceModels,
  saturationExpr,
  windowSeconds,
} from "./model";
export type { SloModel, ServiceModel, BurnAlertModel, AlertModel, RecordModel, BurnTier } from "./model";
export { sloRuleSet, ruleDocuments, renderRuleFiles, WINDOW_GROUP_INTERVAL, LONG_GROUP_INTERVAL } from "./rules";
export type { SloRuleSet } from "./rules";

export function sloRuleFiles(cfg: StackConfig): HostFile[] {
  return renderRuleFiles(sloRuleSet(cfg));
}
