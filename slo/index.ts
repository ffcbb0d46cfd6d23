/**
 * SLO rules generator (issue 4 replaces this seam): turns the stack's SLO list into Prometheus rule files placed in
 * PROMETHEUS_RULES_DIR. Until the generator lands, a stack ships no SLO rules.
 */
import type { StackConfig } from "../components/config";
import type { HostFile } from "../hostfiles/types";

export function sloRuleFiles(_cfg: StackConfig): HostFile[] {
  return [];
}
