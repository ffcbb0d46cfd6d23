/**
 * The built-in log alerts: a burst of error-level lines from each of the monitoring host's own services, and from
 * each application that has an SLO.
 *
 * What the queries rely on (verified in the sources at the pinned releases, docs/log-alerts.md):
 * - The host's services log to journald; the collector reads each unit's journal (journald receiver, one per unit)
 *   and sets the resource attributes `service.name` (the scrape job name) and `service.namespace`
 *   (HOST_LOG_NAMESPACE). Loki's OTLP intake makes both index labels, `service_name` and `service_namespace`
 *   (pkg/loghttp/push/otlp_config.go, default_resource_attributes_as_index_labels).
 * - Nobody sets a level on those lines; Loki's distributor detects it (`discover_log_levels`, on by default) and
 *   stores it as the structured metadata `detected_level`: from the OTLP severity number when there is one (an
 *   application's OTel logs), else from a `level` field of a JSON or logfmt line (Prometheus, Alertmanager, Loki,
 *   Tempo and Grafana write logfmt with `level=`), else from the first level word in the line (the collector's
 *   console lines); values are normalised to trace, debug, info, warn, error, critical, fatal
 *   (pkg/distributor/field_detection.go).
 */
import type { Duration } from "./duration";
import { parseDuration } from "./duration";
import type { ServiceName } from "../layout/host-layout";
import type { SloSpec } from "./slo-spec";
import type { LogAlertSpec } from "./log-alert-spec";
import { SERVICE_UNITS } from "../layout/host-layout";
import { slug } from "../layout/slug";

/** `service.namespace` of the host's own log lines (service_namespace in Loki). */
export const HOST_LOG_NAMESPACE = "monitoring-host";

/**
 * The host's services whose journal the collector ships to Loki: `service.name` (= the service's scrape job, so a
 * log alert carries the `job` that MonitoringTargetDown inhibits by) → systemd unit.
 */
export const HOST_LOG_SERVICES: Record<string, string> = Object.fromEntries(
  (["prometheus", "alertmanager", "grafana", "loki", "tempo", "otelcol"] as ServiceName[]).map((s) => [s, SERVICE_UNITS[s]]),
);

/** Error level or worse, as Loki's level detection names them. */
export const LOG_ALERT_DEFAULT_FILTER = '| detected_level=~"error|critical|fatal"';

export const HOST_LOG_ALERT = "MonitoringServiceLogErrors";
export const APPLICATION_LOG_ALERT = "ApplicationLogErrors";
export const HOST_LOG_RUNBOOK = "monitoring-service-log-errors";
export const APPLICATION_LOG_RUNBOOK = "application-log-errors";

const d = (text: string): Duration => parseDuration(text)!;

/** `shop/orders-api` (service.namespace/service.name, as in the job label) or a plain service name. */
export function serviceSelector(service: string): string {
  const slash = service.lastIndexOf("/");
  if (slash < 0) return `{service_name=${JSON.stringify(service)}}`;
  return `{service_namespace=${JSON.stringify(service.slice(0, slash))}, service_name=${JSON.stringify(service.slice(slash + 1))}}`;
}

export function defaultLogAlerts(slos: Pick<SloSpec, "service">[]): LogAlertSpec[] {
  const host: LogAlertSpec[] = Object.keys(HOST_LOG_SERVICES).map((service) => ({
    name: `${service}-log-errors`,
    alert: HOST_LOG_ALERT,
    service,
    selector: `{service_namespace="${HOST_LOG_NAMESPACE}", service_name="${service}"}`,
    filter: LOG_ALERT_DEFAULT_FILTER,
    measure: "count",
    // A burst: more than 10 error lines within 5 minutes. One burst keeps the count up for the whole window, so
    // `for: 2m` still reports it while a single stray line at an evaluation boundary does not.
    threshold: 10,
    window: d("5m"),
    for: d("2m"),
    severity: "ticket",
    labels: { job: service },
    summary: `${service} on the monitoring host logs errors ({{ $value }} in 5m)`,
    description:
      `{{ $labels.service_name }} wrote {{ $value }} error-level lines in the last 5 minutes (threshold 10). ` +
      `Its journal says what fails: journalctl -u ${HOST_LOG_SERVICES[service]}.`,
    runbook: HOST_LOG_RUNBOOK,
    origin: "host",
  }));
  const services = [...new Set(slos.map((s) => s.service))];
  const hostNames = new Set(host.map((h) => h.name));
  const appName = (service: string) => (hostNames.has(`${slug(service)}-log-errors`) ? `app-${slug(service)}-log-errors` : `${slug(service)}-log-errors`);
  const apps: LogAlertSpec[] = services.map((service) => ({
    name: appName(service),
    alert: APPLICATION_LOG_ALERT,
    service,
    selector: serviceSelector(service),
    filter: LOG_ALERT_DEFAULT_FILTER,
    measure: "count",
    threshold: 20,
    window: d("5m"),
    for: d("2m"),
    severity: "ticket",
    labels: {},
    summary: `${service} logs errors ({{ $value }} in 5m)`,
    description:
      `{{ $labels.service_name }} logged {{ $value }} lines of level error or worse in the last 5 minutes (threshold 20). ` +
      "Open a failing request's trace from a log line's trace_id (runbook).",
    runbook: APPLICATION_LOG_RUNBOOK,
    origin: "application",
  }));
  return [...host, ...apps];
}
