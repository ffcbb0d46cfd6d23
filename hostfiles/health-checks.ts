/**
 * The host's health check (host-agent/monitoring-health.sh) and what it checks (the bundle's `healthChecks`): which
 * endpoint proves which service healthy. Run after every deploy by components/deploy-verification.ts, and by
 * on-call by hand.
 */
import { BIN_ROOT, SERVICE_UNITS, SERVICES } from "../layout/host-layout";
import type { HostFile } from "../layout/host-file";
import { hostScript } from "./templates";

export const HEALTH_SCRIPT = `${BIN_ROOT}/monitoring-health`;

export interface HealthCheck {
  name: string;
  unit: string;
  /** Answers 200 when the service is ready. */
  url: string;
}

export function healthChecks(): HealthCheck[] {
  const local = (port: number, p: string) => `http://127.0.0.1:${port}${p}`;
  const rows: [string, string, string][] = [
    ["prometheus", SERVICE_UNITS.prometheus, local(SERVICES.prometheus.ports.http, "/-/ready")],
    ["alertmanager", SERVICE_UNITS.alertmanager, local(SERVICES.alertmanager.ports.http, "/-/ready")],
    ["grafana", SERVICE_UNITS.grafana, local(SERVICES.grafana.ports.http, "/api/health")],
    ["loki", SERVICE_UNITS.loki, local(SERVICES.loki.ports.http, "/ready")],
    ["tempo", SERVICE_UNITS.tempo, local(SERVICES.tempo.ports.http, "/ready")],
    ["otelcol", SERVICE_UNITS.otelcol, local(SERVICES.otelcol.ports.health, "/")],
    ["node_exporter", SERVICE_UNITS.nodeExporter, local(SERVICES.nodeExporter.ports.http, "/metrics")],
  ];
  return rows.map(([name, unit, url]) => ({ name, unit, url }));
}

export function healthCheckFiles(): HostFile[] {
  return [{ path: HEALTH_SCRIPT, content: hostScript("monitoring-health.sh"), mode: "0755", owner: "root:root" }];
}
