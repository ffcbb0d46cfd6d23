/**
 * Every file that lands on a monitoring host: service configs and meta-alerts (services/), SLO rules (rules/),
 * systemd units (units.ts), the host agent's scripts and its users (agent.ts) and the health check (health-checks.ts).
 */
import type { StackConfig } from "../config/stack-config";
import { dashboardFiles } from "../dashboards";
import { sloRuleFiles } from "../rules/slo-rules";
import { buildSloModels } from "../rules/slo-model";
import { agentFiles } from "./agent";
import { healthCheckFiles } from "./health-checks";
import { sshAccessFiles } from "./ssh-access";
import { serviceFiles } from "./services";
import type { BundleContext, HostFile } from "../layout/host-file";
import { unitFiles } from "./units";

export function renderHostFiles(cfg: StackConfig, ctx: BundleContext): HostFile[] {
  // Built once: the SLO rules, the dashboards and the runbooks all read these models.
  const slos = buildSloModels(cfg);
  const files = [
    ...serviceFiles(cfg, ctx),
    ...sloRuleFiles(cfg, slos),
    ...unitFiles(cfg, ctx.pair),
    ...agentFiles(),
    ...healthCheckFiles(),
    ...sshAccessFiles(cfg, ctx.automationPublicKey),
    ...dashboardFiles(cfg, slos),
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (!f.path.startsWith("/")) throw new Error(`host file path ${f.path} is not absolute`);
    if (seen.has(f.path)) throw new Error(`two host files claim ${f.path}`);
    seen.add(f.path);
  }
  return files;
}
