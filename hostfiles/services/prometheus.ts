/** prometheus.yml: what Prometheus scrapes, where its rules are and where alerts go. */
import type { AppScrapeTarget, StackConfig } from "../../config/stack-config";
import { ALERTING_TIMING, PROMETHEUS_RULES_DIR, SERVICES, STACK_JOBS } from "../../layout/host-layout";
import type { BundleContext, HostFile } from "../../layout/host-file";
import { renderTemplate, yamlBlock } from "../templates";
import { loopback } from "./common";
import { ampHaLabels, DROP_REPLICA_LABEL, remoteWriteEntries } from "./remote-write";
import { configFile } from "../../layout/host-file";

export { STACK_JOBS } from "../../layout/host-layout";

/** The `rule_files` glob; the SLO rules and the meta-alerts each drop a file in the directory. */
export const PROMETHEUS_RULE_FILES_GLOB = `${PROMETHEUS_RULES_DIR}/*.yml`;

interface ScrapeConfig {
  job_name: string;
  honor_labels?: boolean;
  metrics_path?: string;
  scheme?: string;
  static_configs: { targets: string[] }[];
}

export interface PrometheusConfigView {
  scrapeInterval: string;
  evaluationInterval: string;
  externalLabels: Record<string, string>;
  alertmanagers: string[];
  /** alert_relabel_configs; absent on a stack without remote write (the file stays as it was). */
  alertRelabelConfigs?: Record<string, unknown>[];
  ruleFiles: string[];
  scrapeConfigs: ScrapeConfig[];
  /** remote_write entries (`remoteWrite`, hostfiles/services/remote-write.ts). */
  remoteWrite?: Record<string, unknown>[];
}

function job(name: string, port: number, extra: Partial<ScrapeConfig> = {}): ScrapeConfig {
  return { job_name: name, ...extra, static_configs: [{ targets: [loopback(port)] }] };
}

function appJob(app: AppScrapeTarget): ScrapeConfig {
  return {
    job_name: app.service,
    ...(app.metricsPath ? { metrics_path: app.metricsPath } : {}),
    ...(app.scheme ? { scheme: app.scheme } : {}),
    static_configs: [{ targets: app.targets }],
  };
}

/** Name of this Prometheus among its replicas (the `__replica__` label AMP deduplicates by). One host: `0`. */
export const SINGLE_REPLICA = "0";

export function prometheusView(cfg: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl" | "pair"> = {}): PrometheusConfigView {
  const svc = SERVICES;
  const pair = ctx.pair;
  // Each replica of a pair says which it is (`__replica__`, the name AMP deduplicates by); with remote write AMP also
  // needs `cluster`. Alerts go out without `__replica__`, so both replicas' alerts are one alert to Alertmanager.
  const replica = pair ? String(pair.index) : SINGLE_REPLICA;
  const labels = cfg.remoteWrite ? ampHaLabels(cfg, replica) : pair ? { __replica__: replica } : undefined;
  return {
    scrapeInterval: ALERTING_TIMING.scrapeInterval,
    evaluationInterval: ALERTING_TIMING.evaluationInterval,
    externalLabels: { environment: cfg.environment, stack: cfg.stack, ...labels },
    ...(labels ? { alertRelabelConfigs: DROP_REPLICA_LABEL } : {}),
    ...(cfg.remoteWrite ? { remoteWrite: remoteWriteEntries(cfg, ctx) } : {}),
    // A pair's Prometheus sends every alert to both Alertmanagers; they deduplicate by gossip.
    alertmanagers: [loopback(svc.alertmanager.ports.http), ...(pair ? [`${pair.peerIp}:${svc.alertmanager.ports.http}`] : [])],
    ruleFiles: [PROMETHEUS_RULE_FILES_GLOB],
    scrapeConfigs: [
      job(STACK_JOBS.prometheus, svc.prometheus.ports.http),
      job(STACK_JOBS.alertmanager, svc.alertmanager.ports.http),
      job(STACK_JOBS.grafana, svc.grafana.ports.http),
      job(STACK_JOBS.loki, svc.loki.ports.http),
      job(STACK_JOBS.tempo, svc.tempo.ports.http),
      job(STACK_JOBS.otelcol, svc.otelcol.ports.metrics),
      // Application series carry their own job/instance (from service.name/service.instance.id): keep them.
      job(STACK_JOBS.otelcolApps, svc.otelcol.ports.prometheusExporter, { honor_labels: true }),
      job(STACK_JOBS.node, svc.nodeExporter.ports.http),
      ...cfg.appScrapeTargets.map(appJob),
    ],
  };
}

export function renderPrometheusConfig(view: PrometheusConfigView): string {
  return renderTemplate("services/prometheus.yml.hbs", {
    global: yamlBlock({
      scrape_interval: view.scrapeInterval,
      evaluation_interval: view.evaluationInterval,
      external_labels: view.externalLabels,
    }),
    alerting: yamlBlock({
      ...(view.alertRelabelConfigs ? { alert_relabel_configs: view.alertRelabelConfigs } : {}),
      alertmanagers: [{ static_configs: [{ targets: view.alertmanagers }] }],
    }),
    ruleFiles: yamlBlock(view.ruleFiles),
    scrapeConfigs: yamlBlock(view.scrapeConfigs),
    remoteWrite: view.remoteWrite ? yamlBlock(view.remoteWrite) : undefined,
  });
}

export function prometheusFiles(cfg: StackConfig, ctx: Pick<BundleContext, "ampWorkspaceUrl" | "pair"> = {}): HostFile[] {
  return [configFile("prometheus", SERVICES.prometheus.config, renderPrometheusConfig(prometheusView(cfg, ctx)), "reload")];
}
