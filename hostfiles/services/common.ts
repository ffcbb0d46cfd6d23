/** Small shared pieces of the service config renderers: loopback addresses, unit names, file ownership. */
import * as path from "path";
import { SERVICES, ServiceName } from "../../layout/host-layout";
import type { HostFile } from "../../layout/host-file";

/** Every listener except the collector's OTLP receivers binds here: nothing else is reachable from the VPC. */
export const LOOPBACK = "127.0.0.1";

export function loopback(port: number): string {
  return `${LOOPBACK}:${port}`;
}


/**
 * The trace id's name wherever it travels as a label: the collector's Prometheus exporter labels exemplars with it
 * (OpenTelemetry's Prometheus compatibility rule), Loki's OTLP intake keeps it as structured metadata, and Tempo's
 * metrics-generator is told to use it too (its default is `traceID`). Grafana's links look for it under this name.
 * The sources: the `facts` of hostfiles/upstream-evidence/{otelcol,loki,tempo}-*.json.
 */
export const TRACE_ID_LABEL = "trace_id";

/** Memberlist gossip ports, from the layout (each pinned to loopback on its own port). */
export const MEMBERLIST_PORTS = { loki: SERVICES.loki.ports.memberlist, tempo: SERVICES.tempo.ports.memberlist } as const;



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
