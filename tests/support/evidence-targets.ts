/**
 * Which rendered files and command lines are checked against which upstream evidence (tests/support/
 * upstream-evidence.ts), and the stacks they are rendered for. Add a row here when a service gains a config file
 * (a Loki rules file, a second collector config): the test then fails until the evidence lists its keys.
 */
import type { StackConfig } from "../../config/stack-config";
import { GRAFANA_DASHBOARD_PROVIDERS_FILE, GRAFANA_DATASOURCES_FILE, LOKI_RULES_FILE, ServiceName, SERVICES } from "../../layout/host-layout";
import { serviceFiles } from "../../hostfiles/services";
import { serviceFlags } from "../../hostfiles/services/flags";
import { OTLP_CLIENT_CA_PATH, OTLP_SERVER_CERT_PATH } from "../../hostfiles/services/otelcol";
import { type HostPair, placeholderBundleContext } from "../../layout/host-file";
import { COMPONENTS } from "../../config/release-manifest";
import { arm64Overrides, stackConfig } from "./stacks";

/** Services with no binary on the test machines: their files and flags are checked against upstream evidence. */
export const EVIDENCE_SERVICES = ["grafana", "loki", "tempo", "otelcol"] as const satisfies readonly ServiceName[];
export type EvidenceService = (typeof EVIDENCE_SERVICES)[number];

/** Host file path → evidence document of its service. */
export const EVIDENCE_DOCUMENTS: { service: EvidenceService; path: string; document: string }[] = [
  { service: "loki", path: SERVICES.loki.config, document: "config" },
  { service: "tempo", path: SERVICES.tempo.config, document: "config" },
  { service: "otelcol", path: SERVICES.otelcol.config, document: "config" },
  { service: "grafana", path: SERVICES.grafana.config, document: "grafana.ini" },
  { service: "grafana", path: GRAFANA_DATASOURCES_FILE, document: "provisioning/datasources" },
  { service: "grafana", path: GRAFANA_DASHBOARD_PROVIDERS_FILE, document: "provisioning/dashboards" },
];

/** Files of these services that hold no keys of the service (certificates), with why they are not checked. */
export const NOT_CONFIG: Record<string, string> = {
  [OTLP_SERVER_CERT_PATH]: "a PEM certificate, not configuration",
  [OTLP_CLIENT_CA_PATH]: "PEM certificates (the applications' client CAs), not configuration",
  [LOKI_RULES_FILE]:
    "a ruler rule file (Prometheus rule-file format with LogQL, read by Loki's GroupLoader with known fields only): " +
    "checked by tests/log-alerts.spec.ts (promtool check rules, Loki's rule validation, Grafana's LogQL grammar)",
};

/**
 * Every stack the evidence test renders: the committed dev and prd, each also on the other architecture (the
 * service configs must not depend on it, and the test proves they are accepted either way).
 */
export function evidenceStacks(): { name: string; stack: string; cfg: StackConfig; pair?: HostPair }[] {
  const pairCfg = stackConfig("prd", { hosts: 2, secondSubnetId: "subnet-00000000000000001" });
  return [
    { name: "dev (x86_64)", stack: "dev", cfg: stackConfig("dev") },
    { name: "dev on arm64", stack: "dev", cfg: stackConfig("dev", arm64Overrides("t4g.large")) },
    { name: "prd (x86_64)", stack: "prd", cfg: stackConfig("prd") },
    { name: "prd on arm64", stack: "prd", cfg: stackConfig("prd", arm64Overrides("m7g.xlarge")) },
    // remoteWrite adds the AMP data source, the plugin it needs and the units' network (docs/remote-write.md).
    { name: "prd with remoteWrite", stack: "prd", cfg: stackConfig("prd", { remoteWrite: { workspace: "create" } }) },
    // An HA pair's hosts (docs/ha-pair.md): Loki's ring over memberlist, Tempo's own prefix per host.
    { name: "prd pair, host 0", stack: "prd", cfg: pairCfg, pair: { index: 0, selfIp: "10.10.1.20", peerIp: "10.10.2.20" } },
    { name: "prd pair, host 1", stack: "prd", cfg: pairCfg, pair: { index: 1, selfIp: "10.10.2.20", peerIp: "10.10.1.20" } },
  ];
}

export interface RenderedForEvidence {
  service: EvidenceService;
  version: string;
  path: string;
  document?: string;
  content: string;
}

/** The files of the evidence services for one stack (with the placeholder context, as `npm run render` does). */
export function renderedForEvidence(stack: string, cfg: StackConfig, pair?: HostPair): RenderedForEvidence[] {
  const files = serviceFiles(cfg, { ...placeholderBundleContext(stack), ...(pair ? { pair } : {}) });
  const owners = Object.fromEntries(EVIDENCE_SERVICES.map((s) => [SERVICES[s].user, s])) as Record<string, EvidenceService>;
  return files.flatMap((f) => {
    const service = owners[f.owner.split(":")[1]];
    if (!service) return [];
    const doc = EVIDENCE_DOCUMENTS.find((d) => d.path === f.path);
    return [{ service, version: COMPONENTS[service].version, path: f.path, document: doc?.document, content: f.content }];
  });
}

/** The command line (without the binary) each evidence service's unit runs. */
export function flagsForEvidence(cfg: StackConfig): { service: EvidenceService; version: string; words: string[] }[] {
  const flags = serviceFlags(cfg);
  return EVIDENCE_SERVICES.map((service) => ({ service, version: COMPONENTS[service].version, words: flags[service] }));
}
