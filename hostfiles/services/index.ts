/**
 * Every service config file of a monitoring host. Pure: stack config and context in, files out (templates are the
 * only thing read). The systemd units take their command-line flags from ./flags.
 */
import type { StackConfig } from "../../config/stack-config";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { alertmanagerFiles } from "./alertmanager";
import { grafanaFiles } from "./grafana";
import { lokiFiles } from "./loki";
import { metaAlertFiles } from "../../rules/meta-alerts";
import { otelcolFiles } from "./otelcol";
import { prometheusFiles } from "./prometheus";
import { remoteWriteAlertFiles } from "./remote-write";
import { tempoFiles } from "./tempo";
import { lokiRuleFiles } from "../../rules/log-alert-rules";
import { SERVICE_UNITS } from "../../layout/host-layout";

export { serviceFlags, prometheusFlags, alertmanagerFlags, lokiFlags, tempoFlags, otelcolFlags, grafanaFlags, nodeExporterFlags } from "./flags";
export { MEMBERLIST_PORTS } from "./common";
export { SERVICE_UNITS } from "../../layout/host-layout";

export function serviceFiles(cfg: StackConfig, ctx: BundleContext): HostFile[] {
  const files = [
    ...prometheusFiles(cfg, ctx),
    ...metaAlertFiles(cfg),
    ...remoteWriteAlertFiles(cfg),
    ...alertmanagerFiles(cfg),
    ...lokiFiles(cfg, ctx),
    ...lokiRuleFiles(cfg),
    ...tempoFiles(cfg, ctx),
    ...otelcolFiles(cfg, ctx),
    ...grafanaFiles(cfg, ctx),
  ];
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`two service files claim ${f.path}`);
    seen.add(f.path);
  }
  return files;
}
