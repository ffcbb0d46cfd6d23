/**
 * What the example application's logs really contain (issue 16, item 4), shown with its own dependencies
 * (examples/appointments-api/node_modules: pino, the OpenTelemetry Node SDK and the pino instrumentation, the
 * versions it pins): a child process logs the way src/main.ts does, inside a span, and reports both the JSON line
 * pino writes to stdout and the OTLP log record the instrumentation hands to the Logs SDK
 * (`OTEL_LOGS_EXPORTER=otlp`, docs/connect-an-application.md).
 *
 * The default ApplicationLogErrors alert (config/log-alert-defaults.ts) relies on the OTLP record: its severity number
 * gives Loki's detected_level, its trace context becomes the trace_id structured metadata the runbook filters on.
 * The stdout line has pino's numeric level, which Loki's level detection does not read (docs/log-alerts.md).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stackConfig } from "./support/stacks";
import { tempDir } from "./support/validators";
import { APPLICATION_LOG_ALERT } from "../config/log-alert-defaults";
import { EXAMPLE_DIR, requireExampleApp } from "./integration/appointments-app";

/** Runs in the child, with the example's node_modules; prints one JSON object on its last stdout line. */
const SCRIPT = String.raw`
const { NodeSDK } = require("@opentelemetry/sdk-node");
const { InMemoryLogRecordExporter, SimpleLogRecordProcessor } = require("@opentelemetry/sdk-logs");
const { PinoInstrumentation } = require("@opentelemetry/instrumentation-pino");
const exporter = new InMemoryLogRecordExporter();
const sdk = new NodeSDK({
  logRecordProcessors: [new SimpleLogRecordProcessor({ exporter })],
  instrumentations: [new PinoInstrumentation()],
  traceExporter: { export: (_s, cb) => cb({ code: 0 }), shutdown: async () => {} },
});
sdk.start();
const api = require("@opentelemetry/api");
const pino = require("pino");
const lines = [];
const stream = { write: (s) => lines.push(s) };
const logger = pino({ base: { service: "appointments-api" } }, stream);
const tracer = api.trace.getTracer("test");
let traceId;
tracer.startActiveSpan("POST /appointments", (span) => {
  traceId = span.spanContext().traceId;
  logger.error({ fault: "failing" }, "injected failure");
  logger.info({ appointment: 1 }, "appointment created");
  span.end();
});
setTimeout(() => {
  const records = exporter.getFinishedLogRecords().map((r) => ({
    severityNumber: r.severityNumber,
    severityText: r.severityText,
    body: r.body,
    attributes: r.attributes,
    traceId: r.spanContext && r.spanContext.traceId,
  }));
  process.stdout.write("\n" + JSON.stringify({ traceId, lines: lines.map((l) => JSON.parse(l)), records }) + "\n");
  sdk.shutdown().finally(() => process.exit(0));
}, 200);
`;

describe("the example application's logs: what ApplicationLogErrors and its runbook read", function () {
  this.timeout(60_000);
  let out: { traceId: string; lines: Record<string, unknown>[]; records: Record<string, any>[] };

  before(function () {
    requireExampleApp(this, true);
    const tmp = tempDir("app-logs-");
    try {
      const file = path.join(tmp.dir, "log-records.js");
      fs.writeFileSync(file, SCRIPT);
      const r = spawnSync(process.execPath, [file], {
        env: { PATH: process.env.PATH ?? "", NODE_PATH: path.join(EXAMPLE_DIR, "node_modules"), OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none" },
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    } finally {
      tmp.cleanup();
    }
  });

  it("over OTLP: an error line is a record of severity ERROR (Loki: detected_level=error), an info line is not", () => {
    const error = out.records.find((x) => x.body === "injected failure");
    const info = out.records.find((x) => x.body === "appointment created");
    assert.ok(error && info, JSON.stringify(out.records));
    // OTel severity numbers: ERROR 17–20 (Loki maps them to "error"), INFO 9–12 ("info").
    assert.ok(error.severityNumber >= 17 && error.severityNumber <= 20, `severity ${error.severityNumber}`);
    assert.equal(error.severityText, "error");
    assert.ok(info.severityNumber >= 9 && info.severityNumber <= 12, `severity ${info.severityNumber}`);
    const app = stackConfig("dev").logAlerts.find((a) => a.alert === APPLICATION_LOG_ALERT)!;
    assert.match(app.filter, /detected_level=~"error\|critical\|fatal"/);
  });

  it("over OTLP: the record carries the request's trace context (Loki: trace_id structured metadata), not a trace_id attribute", () => {
    const error = out.records.find((x) => x.body === "injected failure")!;
    assert.match(out.traceId, /^[0-9a-f]{32}$/);
    assert.equal(error.traceId, out.traceId);
    assert.equal(error.attributes.fault, "failing");
    assert.ok(!("trace_id" in error.attributes), "pino's trace_id field is stripped from the record's attributes");
  });

  it("on stdout: pino's JSON line has a numeric level (50) and the trace_id field (an agent-shipped stdout needs | json | level >= 50)", () => {
    const line = out.lines.find((l) => l.msg === "injected failure")!;
    assert.equal(line.level, 50);
    assert.equal(line.trace_id, out.traceId);
  });
});
