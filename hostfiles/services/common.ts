/** Small shared pieces of the service config renderers: loopback addresses, unit names, file ownership. */
import * as path from "path";
import { SERVICES, ServiceName } from "../layout";
import type { HostFile } from "../types";

/** Every listener except the collector's OTLP receivers binds here: nothing else is reachable from the VPC. */
export const LOOPBACK = "127.0.0.1";

export function loopback(port: number): string {
  return `${LOOPBACK}:${port}`;
}

/**
 * systemd unit of each service. The units themselves are written elsewhere (systemd/); these names are the
 * contract for `HostFile.onChange`.
 */
export const SERVICE_UNITS: Record<ServiceName, string> = {
  prometheus: "prometheus.service",
  alertmanager: "alertmanager.service",
  grafana: "grafana.service",
  loki: "loki.service",
  tempo: "tempo.service",
  otelcol: "otelcol.service",
  nodeExporter: "node_exporter.service",
};

/**
 * The trace id's name wherever it travels as a label: the collector's Prometheus exporter labels exemplars with it
 * (OpenTelemetry's Prometheus compatibility rule), Loki's OTLP intake keeps it as structured metadata, and Tempo's
 * metrics-generator is told to use it too (its default is `traceID`). Grafana's links look for it under this name.
 * The sources: the `facts` of hostfiles/upstream-evidence/{otelcol,loki,tempo}-*.json.
 */
export const TRACE_ID_LABEL = "trace_id";

/** Memberlist gossip ports, from the layout (each pinned to loopback on its own port). */
export const MEMBERLIST_PORTS = { loki: SERVICES.loki.ports.memberlist, tempo: SERVICES.tempo.ports.memberlist } as const;

/** Config directory of a service (the directory of its main config file). */
export function configDir(service: ServiceName): string {
  return path.posix.dirname(SERVICES[service].config);
}

/**
 * A config file readable by the service (group) but writable only by root: a compromised service cannot rewrite
 * its own configuration.
 */
export function configFile(
  service: Exclude<ServiceName, "nodeExporter">,
  filePath: string,
  content: string,
  action: "reload" | "restart",
): HostFile {
  return {
    path: filePath,
    content: content.endsWith("\n") ? content : `${content}\n`,
    mode: "0640",
    owner: `root:${SERVICES[service].user}`,
    onChange: { unit: SERVICE_UNITS[service], action },
  };
}

/** The `server` block of Loki and Tempo (both Grafana dskit services): HTTP and gRPC on loopback. */
export function dskitServer(ports: { http: number; grpc: number }): Record<string, unknown> {
  return {
    http_listen_address: LOOPBACK,
    http_listen_port: ports.http,
    grpc_listen_address: LOOPBACK,
    grpc_listen_port: ports.grpc,
    log_level: "info",
  };
}
