/**
 * Grafana: grafana.ini, the provisioned data sources (stable uids, cross-linked: metrics → traces, logs → traces,
 * traces → logs and service map) and the dashboards provider.
 */
import type { StackConfig } from "../../config/stack-config";
import { AMP_DATASOURCE_UID, configDir, DATASOURCE_UIDS, GRAFANA_DASHBOARD_PROVIDERS_FILE, GRAFANA_DASHBOARDS_DIR, GRAFANA_DATASOURCES_FILE, GRAFANA_HOME, GRAFANA_PROVISIONING_DIR, SERVICES } from "../../layout/host-layout";
import { SECRET_IDS, secretFiles } from "../secrets";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { renderTemplate, yamlFile } from "../templates";
import { loopback, TRACE_ID_LABEL } from "./common";
import { ampWorkspaceUrl } from "./remote-write";
import { configFile } from "../../layout/host-file";


export interface GrafanaIniView {
  httpAddr: string;
  httpPort: number;
  dataDir: string;
  logsDir: string;
  pluginsDir: string;
  provisioningDir: string;
  adminPasswordFile: string;
  grafanaHome: string;
  /** `[plugins] preinstall` (id@version), with `remoteWrite` only. */
  preinstall?: string;
}

/**
 * Grafana 13 has no SigV4 in its core Prometheus data source (removed by grafana/grafana#123089, April 2026, after a
 * deprecation pointing to this plugin); Amazon Managed Service for Prometheus is read through Grafana's own plugin.
 * 3.2.0 is its newest tag in the grafana/grafana-amazonprometheus-datasource snapshot; its plugin.json accepts
 * Grafana >= 12.2.5. It reads sigV4* from jsonData through grafana-plugin-sdk-go v0.294.0 (backend/http_settings.go).
 */
export const AMP_DATASOURCE_PLUGIN = { id: "grafana-amazonprometheus-datasource", version: "3.2.0" } as const;

export function grafanaIniView(cfg: StackConfig): GrafanaIniView {
  const secret = secretFiles(cfg).find((f) => f.id === SECRET_IDS.grafanaAdminPassword);
  if (!secret) throw new Error(`secrets manifest has no "${SECRET_IDS.grafanaAdminPassword}" entry`);
  const g = SERVICES.grafana;
  return {
    httpAddr: "127.0.0.1",
    httpPort: g.ports.http,
    dataDir: g.dataDir,
    logsDir: `${g.dataDir}/log`,
    pluginsDir: `${g.dataDir}/plugins`,
    provisioningDir: GRAFANA_PROVISIONING_DIR,
    adminPasswordFile: secret.path,
    // grafana.ini names where the archive's preinstalled plugins are (scripts/catalog-plugins-defaults and
    // pkg/services/pluginsintegration/plugininstaller/service.go in grafana/grafana: fact "data-sources-preinstalled"
    // in hostfiles/upstream-evidence/grafana-13.2.3.json).
    grafanaHome: GRAFANA_HOME,
    ...(cfg.remoteWrite ? { preinstall: `${AMP_DATASOURCE_PLUGIN.id}@${AMP_DATASOURCE_PLUGIN.version}` } : {}),
  };
}

interface Datasource {
  name: string;
  type: string;
  uid: string;
  access: "proxy";
  url: string;
  isDefault?: boolean;
  editable: boolean;
  jsonData: Record<string, unknown>;
}

function url(port: number): string {
  return `http://${loopback(port)}`;
}

/** The Loki query of a trace → logs link, as written in the provisioning file (`$$` for a literal `$`). */
export function traceToLogsQuery(): string {
  return `{$\${__tags}} | ${TRACE_ID_LABEL}="$\${__span.traceId}"`;
}

/**
 * With `remoteWrite`: the AMP workspace, signed with SigV4 by the AWS SDK's default credential chain (the instance
 * role; `default` is in Grafana's default [aws] allowed_auth_providers).
 */
export function ampDatasource(cfg: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl">): Datasource {
  return {
    name: "Amazon Managed Prometheus",
    type: AMP_DATASOURCE_PLUGIN.id,
    uid: AMP_DATASOURCE_UID,
    access: "proxy",
    url: ampWorkspaceUrl(cfg, ctx),
    editable: false,
    jsonData: { sigV4Auth: true, sigV4AuthType: "default", sigV4Region: cfg.region },
  };
}

export function grafanaDatasources(cfg?: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl"> = {}): Datasource[] {
  const s = SERVICES;
  const u = DATASOURCE_UIDS;
  const amp = cfg?.remoteWrite ? [ampDatasource(cfg, ctx)] : [];
  return [
    {
      name: "Prometheus",
      type: "prometheus",
      uid: u.prometheus,
      access: "proxy",
      url: url(s.prometheus.ports.http),
      isDefault: true,
      editable: false,
      jsonData: {
        httpMethod: "POST",
        prometheusType: "Prometheus",
        // Exemplars carry the trace id (the collector's and Tempo's generator's under one name): a click on one
        // opens the trace in Tempo.
        exemplarTraceIdDestinations: [{ name: TRACE_ID_LABEL, datasourceUid: u.tempo }],
      },
    },
    {
      name: "Loki",
      type: "loki",
      uid: u.loki,
      access: "proxy",
      url: url(s.loki.ports.http),
      editable: false,
      jsonData: {
        // OTLP logs keep trace_id as structured metadata; `$$` survives provisioning's env interpolation.
        derivedFields: [
          { name: TRACE_ID_LABEL, matcherType: "label", matcherRegex: TRACE_ID_LABEL, datasourceUid: u.tempo, url: "$${__value.raw}" },
        ],
      },
    },
    {
      name: "Tempo",
      type: "tempo",
      uid: u.tempo,
      access: "proxy",
      url: url(s.tempo.ports.http),
      editable: false,
      jsonData: {
        tracesToLogsV2: {
          datasourceUid: u.loki,
          spanStartTimeShift: "-5m",
          spanEndTimeShift: "5m",
          tags: [{ key: "service.name", value: "service_name" }],
          // Loki keeps an OTLP record's trace id as structured metadata, not in the line (pkg/loghttp/push/otlp.go,
          // fact "otlp-trace-id-structured-metadata" in hostfiles/upstream-evidence/loki-3.7.8.json), so
          // filterByTraceID (a line filter) finds nothing: a custom query filters on the metadata. `$$` survives provisioning's env
          // interpolation; Grafana fills ${__tags} (service_name="…") and ${__span.traceId}.
          customQuery: true,
          query: traceToLogsQuery(),
          filterByTraceID: false,
          filterBySpanID: false,
        },
        serviceMap: { datasourceUid: u.prometheus },
        nodeGraph: { enabled: true },
        // No `lokiSearch`: the Loki search tab it fed is gone since Grafana 11 (not in the evidence for 13.2.3).
      },
    },
    {
      name: "Alertmanager",
      type: "alertmanager",
      uid: u.alertmanager,
      access: "proxy",
      url: url(s.alertmanager.ports.http),
      editable: false,
      jsonData: { implementation: "prometheus", handleGrafanaManagedAlerts: false },
    },
    ...amp,
  ];
}

export function grafanaDashboardProviders(): Record<string, unknown>[] {
  return [
    {
      name: "monitoring-host",
      type: "file",
      disableDeletion: true,
      allowUiUpdates: false,
      updateIntervalSeconds: 60,
      options: { path: GRAFANA_DASHBOARDS_DIR, foldersFromFilesStructure: true },
    },
  ];
}

export function grafanaFiles(cfg: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl"> = {}): HostFile[] {
  return [
    configFile("grafana", SERVICES.grafana.config, renderTemplate("services/grafana.ini.hbs", grafanaIniView(cfg)), "restart"),
    configFile(
      "grafana",
      GRAFANA_DATASOURCES_FILE,
      yamlFile(
        ["Rendered by hostfiles/services/grafana.ts; do not edit on the host (data sources are not editable in the UI)."],
        { apiVersion: 1, datasources: grafanaDatasources(cfg, ctx) },
      ),
      "restart",
    ),
    configFile(
      "grafana",
      GRAFANA_DASHBOARD_PROVIDERS_FILE,
      yamlFile(["Rendered by hostfiles/services/grafana.ts; do not edit on the host."], { apiVersion: 1, providers: grafanaDashboardProviders() }),
      "restart",
    ),
  ];
}
