/**
 * Grafana dashboards as code (docs/dashboards.md). Every dashboard is built with Grafana's typed builders
 * (@grafana/grafana-foundation-sdk) from the same SLO model the Prometheus rules come from (rules/slo-model.ts), so the
 * two never disagree about metric names, windows or thresholds.
 *
 * The files go into a subfolder of GRAFANA_DASHBOARDS_DIR: the dashboards provider has
 * `foldersFromFilesStructure: true`, so the subfolder becomes the Grafana folder. The provider re-reads the
 * directory every `updateIntervalSeconds` (60 s): a changed dashboard needs no Grafana restart, so the files have
 * no `onChange`.
 */
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type { StackConfig } from "../config/stack-config";
import { GRAFANA_DASHBOARDS_DIR, SERVICES } from "../layout/host-layout";
import type { HostFile } from "../layout/host-file";
import type { SloModels } from "../rules/slo-model";
import { databaseDashboard, DB_DASHBOARD_UID } from "./database";
import { logsTracesDashboard, LOGS_TRACES_DASHBOARD_UID } from "./logs-traces";
import { HOST_DASHBOARD_UID, monitoringHostDashboard } from "./monitoring-host";
import { serviceDashboard, serviceDashboardUid, serviceViews } from "./service-overview";
import { RUNBOOK_FOLDER, runbookDashboards } from "./runbooks";
import { SLO_DASHBOARD_UID, sloDashboard } from "./slos";
import { slug } from "../layout/slug";

export { dashboardQueries, dashboardPanels, DS } from "./common";
export type { DashboardQuery } from "./common";

/** The Grafana folder the dashboards are provisioned into (a directory under GRAFANA_DASHBOARDS_DIR). */
export const DASHBOARD_FOLDER = "Monitoring";
export const DASHBOARD_FOLDER_DIR = `${GRAFANA_DASHBOARDS_DIR}/${DASHBOARD_FOLDER}`;

/** Every generated dashboard of a stack, in navigation order (the SLO overview first). */
export function buildDashboards(set: SloModels): dashboard.Dashboard[] {
  const views = serviceViews(set.slos);
  const hasDb = set.slos.some((m) => m.saturation);
  const links = [
    ...(set.slos.length ? [{ title: "SLOs", uid: SLO_DASHBOARD_UID }] : []),
    ...views.map((v) => ({ title: `Service: ${v.service}`, uid: serviceDashboardUid(v.service) })),
    ...(hasDb ? [{ title: "Database", uid: DB_DASHBOARD_UID }] : []),
    ...(set.slos.length ? [{ title: "Logs and traces", uid: LOGS_TRACES_DASHBOARD_UID }] : []),
    { title: "Monitoring host", uid: HOST_DASHBOARD_UID },
  ];
  const others = (uid: string) => links.filter((l) => l.uid !== uid);
  const all: (dashboard.Dashboard | undefined)[] = [
    set.slos.length ? sloDashboard(set, others(SLO_DASHBOARD_UID)) : undefined,
    ...views.map((v) => serviceDashboard(v, others(serviceDashboardUid(v.service)))),
    databaseDashboard(set.slos, others(DB_DASHBOARD_UID)),
    set.slos.length ? logsTracesDashboard(set.slos, others(LOGS_TRACES_DASHBOARD_UID)) : undefined,
    monitoringHostDashboard(others(HOST_DASHBOARD_UID)),
  ];
  const dashboards = all.filter((d): d is dashboard.Dashboard => d !== undefined);
  const seen = new Set<string>();
  for (const d of dashboards) {
    if (!d.uid) throw new Error(`dashboard "${d.title}" has no uid`);
    if (seen.has(d.uid)) throw new Error(`two dashboards share the uid ${d.uid}`);
    seen.add(d.uid);
  }
  return dashboards;
}

/**
 * The Grafana folder of a dashboard: a service's own dashboard goes into its team's folder (`team-<team>`, from the
 * `team` routing label of the service's SLOs, docs/dashboards.md); the shared ones into DASHBOARD_FOLDER.
 */
export function dashboardFolder(cfg: Pick<StackConfig, "slos">, uid: string): string {
  for (const spec of cfg.slos) {
    const team = spec.alerting.labels.team;
    if (team && serviceDashboardUid(spec.service) === uid) return teamFolder(team);
  }
  return DASHBOARD_FOLDER;
}

/** A team's folder name (a directory name: lower-case letters, digits and dashes). */
export function teamFolder(team: string): string {
  return `team-${slug(team)}`;
}

type DashboardConfig = Pick<StackConfig, "slos" | "alerting">;

/**
 * One JSON file per dashboard, read by Grafana's file provider (no restart needed: it polls the folder): the
 * generated dashboards in their folders, and every runbook as a dashboard in the Runbooks folder.
 */
export function dashboardFiles(cfg: DashboardConfig, set: SloModels): HostFile[] {
  const file = (folder: string, d: dashboard.Dashboard): HostFile => ({
    path: `${GRAFANA_DASHBOARDS_DIR}/${folder}/${d.uid}.json`,
    content: `${JSON.stringify(d, null, 1)}\n`,
    mode: "0644",
    owner: `root:${SERVICES.grafana.user}`,
  });
  return [
    ...buildDashboards(set).map((d) => file(dashboardFolder(cfg, d.uid!), d)),
    ...runbookDashboards(cfg, set).map((d) => file(RUNBOOK_FOLDER, d)),
  ];
}
