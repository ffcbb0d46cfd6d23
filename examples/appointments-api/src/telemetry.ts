/**
 * OpenTelemetry bootstrap. Loaded BEFORE the application with `node --require ./dist/telemetry.js dist/main.js`:
 * the instrumentations patch `http`, `express`, `@nestjs/core`, `pg` and `pino` when those modules are first
 * required, so the SDK must start before NestFactory (or anything else) imports them.
 *
 * Everything deployment-specific comes from the standard OTEL_* variables (docs/connect-an-application.md):
 *   OTEL_SERVICE_NAME                      service.name → the Prometheus `job` the SLO rules select
 *   OTEL_METRICS_EXPORTER                  `otlp` (default: push to the collector) or `prometheus` (scraped directly
 *                                          through the stack's appScrapeTargets; OTEL_EXPORTER_PROMETHEUS_HOST/PORT)
 *   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_METRIC_EXPORT_INTERVAL   (OTLP path)
 * This file adds only what cannot be said with variables: the histogram View and the resource detectors.
 */
import { NodeSDK } from "@opentelemetry/sdk-node";
import { AggregationType, type ViewOptions } from "@opentelemetry/sdk-metrics";
import { envDetector, hostDetector, processDetector, serviceInstanceIdDetector } from "@opentelemetry/resources";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { ExpressInstrumentation } from "@opentelemetry/instrumentation-express";
import { NestInstrumentation } from "@opentelemetry/instrumentation-nestjs-core";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { PinoInstrumentation } from "@opentelemetry/instrumentation-pino";

/**
 * OpenTelemetry's advisory boundaries for http.server.request.duration plus 0.4: the latency SLO ("95 % within
 * 400 ms") needs a bucket boundary at exactly its threshold (docs/metrics.md). The stack config's `buckets` of the
 * latency SLO must list the same boundaries.
 */
export const HTTP_SERVER_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const views: ViewOptions[] = [
  {
    instrumentName: "http.server.request.duration",
    aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: HTTP_SERVER_DURATION_BUCKETS } },
  },
];

const sdk = new NodeSDK({
  views,
  // The defaults (env, process, host) plus service.instance.id: the collector's Prometheus exporter turns it into
  // `instance` and only writes target_info (which SloServiceDown watches) for resources that have one.
  resourceDetectors: [envDetector, processDetector, hostDetector, serviceInstanceIdDetector],
  instrumentations: [
    new HttpInstrumentation({
      // Health checks and scrapes are not user traffic: no spans for them.
      ignoreIncomingRequestHook: (req) => req.url === "/health" || req.url === "/metrics",
    }),
    new ExpressInstrumentation(),
    new NestInstrumentation(),
    // Connection-pool metrics (db.client.connection.count/max) come with the pg instrumentation.
    new PgInstrumentation(),
    // Adds trace_id/span_id to every log line written inside a span.
    new PinoInstrumentation(),
  ],
});
sdk.start();

// Flush on shutdown (systemd stops with SIGTERM).
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    sdk.shutdown().finally(() => process.exit(0));
  });
}
