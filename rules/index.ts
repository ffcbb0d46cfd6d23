/**
 * SLO alerting as data (docs/slos.md): the stack's `slos` list becomes Prometheus recording rules and multi-window,
 * multi-burn-rate alerts in PROMETHEUS_RULES_DIR. `sloRuleSet` exposes the generated model (SLI expressions,
 * recorded series, burn-rate windows, alert names) for the dashboard generator.
 */
import type { StackConfig } from "../config/stack-config";
import type { HostFile } from "../layout/host-file";
import { renderRuleFiles, sloRuleSet } from "./slo-rules";

export { parseSlos, SLI_KINDS, METRIC_CONVENTIONS, OTEL_DEFAULT_BUCKETS } from "../config/slo-spec";
export type { SloSpec, SliKind, MetricConvention, SloSelector, SloAlerting, HealthSignal } from "../config/slo-spec";
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
} from "./slo-model";
export type { SloModel, ServiceModel, BurnAlertModel, AlertModel, RecordModel, BurnTier } from "./slo-model";
export { sloRuleSet, ruleDocuments, renderRuleFiles, WINDOW_GROUP_INTERVAL, LONG_GROUP_INTERVAL } from "./slo-rules";
export type { SloRuleSet } from "./slo-rules";

export function sloRuleFiles(cfg: StackConfig): HostFile[] {
  return renderRuleFiles(sloRuleSet(cfg));
}
