/**
 * The real example application (examples/appointments-api: NestJS + OpenTelemetry Node SDK + node-postgres) as a
 * test subject: built with its own TypeScript, started as `node --require ./dist/telemetry.js dist/main.js` exactly
 * as docs/connect-an-application.md tells users, on 127.0.0.1, against a PostgreSQL cluster the caller started.
 *
 * Its metrics leave through the SDK's own Prometheus exporter (OTEL_METRICS_EXPORTER=prometheus) on `port`, which
 * the stack's appScrapeTargets point at (the direct-scrape path). Traces go over OTLP/HTTP to `tracesUrl` (a
 * loopback receiver), so spans are real and the logs carry their trace_id/span_id.
 *
 * `traffic` drives POST /appointments at a fixed rate (bounded: it stops with `stop()` of the returned handle or
 * when the app is stopped) and counts the answers by status.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Daemon, freePort, LOOPBACK, sleep, startDaemon } from "../support/daemons";
import { run } from "../support/validators";
import type { PostgresDatabase } from "./postgres";

export const EXAMPLE_DIR = path.join(__dirname, "..", "..", "examples", "appointments-api");

export type FaultMode = "healthy" | "failing" | "slow-db";

/**
 * For a spec's `before`: skips (loudly) when the example's dependencies or PostgreSQL are not installed, except in
 * CI, where that is an error (.ci/run installs both).
 */
export function requireExampleApp(ctx: Mocha.Context, hasPostgres: boolean): void {
  const missing = [
    ...(fs.existsSync(path.join(EXAMPLE_DIR, "node_modules")) ? [] : ["examples/appointments-api/node_modules (npm ci --prefix examples/appointments-api)"]),
    ...(hasPostgres ? [] : ["PostgreSQL server binaries (apt-get install postgresql)"]),
  ];
  if (missing.length === 0) return;
  if (process.env.CI) throw new Error(`missing: ${missing.join("; ")}`);
  console.log(`      SKIPPED: missing ${missing.join("; ")}`);
  ctx.skip();
}

/** What the example's build depends on: its sources, tsconfig and lockfile (which pins its TypeScript). */
function exampleInputsHash(): string {
  const h = createHash("sha256");
  const files = [
    "tsconfig.json",
    "package-lock.json",
    ...(fs.readdirSync(path.join(EXAMPLE_DIR, "src"), { recursive: true }) as string[]).map((f) => path.join("src", f)).filter((f) => fs.statSync(path.join(EXAMPLE_DIR, f)).isFile()),
  ].sort();
  for (const f of files) h.update(`${f}\0`).update(fs.readFileSync(path.join(EXAMPLE_DIR, f))).update("\0");
  return h.digest("hex");
}

/**
 * Compiles the example with its own (pinned) TypeScript; its node_modules come from `npm ci` in its directory.
 * Spec files run side by side (`npm test` runs mocha in parallel) and several start the example: the build runs
 * under a lock and only when its inputs changed since the last one (a stamp in dist/), so no spec rewrites dist/
 * while another one starts the app from it.
 */
export function buildExample(): void {
  const tsc = path.join(EXAMPLE_DIR, "node_modules", "typescript", "bin", "tsc");
  if (!fs.existsSync(tsc)) throw new Error(`${EXAMPLE_DIR}/node_modules is missing: run \`npm ci --prefix examples/appointments-api\` (.ci/run does)`);
  const dist = path.join(EXAMPLE_DIR, "dist");
  fs.mkdirSync(dist, { recursive: true });
  const hash = exampleInputsHash();
  const stamp = path.join(dist, ".inputs-sha256");
  // In the lock: build unless the stamp says dist/ is from these inputs, then write the stamp.
  const script = 'if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then rm -f "$1" && "$3" "$4" -p "$5" && printf %s "$2" > "$1"; fi';
  const r = run("flock", ["-w", "300", path.join(dist, ".build.lock"), "sh", "-c", script, "build", stamp, hash, process.execPath, tsc, EXAMPLE_DIR], { timeoutMs: 420_000 });
  if (r.status !== 0) throw new Error(`building the example failed:\n${r.stdout}${r.stderr}`);
}

export interface AppointmentsAppOptions {
  service: string;
  db: PostgresDatabase;
  poolMax: number;
  tracesUrl: string;
}

export class AppointmentsApp {
  private daemon?: Daemon;
  private httpPort = 0;
  private metricsPort = 0;
  private constructor(readonly opts: AppointmentsAppOptions) {}

  static async create(o: AppointmentsAppOptions): Promise<AppointmentsApp> {
    const app = new AppointmentsApp(o);
    app.httpPort = await freePort();
    app.metricsPort = await freePort();
    return app;
  }

  /** The metrics port (what Prometheus scrapes). */
  get port(): number {
    return this.metricsPort;
  }

  get base(): string {
    return `http://${LOOPBACK}:${this.httpPort}`;
  }

  get metricsUrl(): string {
    return `http://${LOOPBACK}:${this.metricsPort}/metrics`;
  }

  /** The environment of docs/connect-an-application.md for the direct-scrape path, plus the test's database. */
  env(): Record<string, string> {
    return {
      ...this.opts.db.env,
      PG_POOL_MAX: String(this.opts.poolMax),
      HOST: LOOPBACK,
      PORT: String(this.httpPort),
      APP_FAULTS: "enabled",
      OTEL_SERVICE_NAME: this.opts.service,
      OTEL_METRICS_EXPORTER: "prometheus",
      OTEL_EXPORTER_PROMETHEUS_HOST: LOOPBACK,
      OTEL_EXPORTER_PROMETHEUS_PORT: String(this.metricsPort),
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: this.opts.tracesUrl,
      OTEL_BSP_SCHEDULE_DELAY: "1000",
      OTEL_LOGS_EXPORTER: "none",
    };
  }

  async start(): Promise<number> {
    if (this.daemon?.running()) throw new Error("appointments-api already running");
    this.daemon = await startDaemon({
      name: "appointments-api",
      cmd: process.execPath,
      args: ["--require", "./dist/telemetry.js", "dist/main.js"],
      cwd: EXAMPLE_DIR,
      env: this.env(),
      port: this.httpPort,
      readyPath: "/health",
      readyTimeoutMs: 60_000,
    });
    return this.metricsPort;
  }

  /** SIGTERM (as systemd stops it); resolves with the time it was gone. */
  async stop(): Promise<number> {
    await this.daemon?.stop("SIGTERM", 10_000);
    return Date.now();
  }

  running(): boolean {
    return !!this.daemon?.running();
  }

  /** stdout/stderr so far: the JSON log lines. */
  output(): string {
    return this.daemon?.output() ?? "";
  }

  /** `holdPool`: the app checks out every connection of its pool and keeps it until the next call. */
  async setFaults(mode: FaultMode, o: { dbDelayMs?: number; holdPool?: boolean } = {}): Promise<void> {
    const res = await fetch(`${this.base}/admin/faults`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode, ...o }),
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`PUT /admin/faults ${mode}: ${res.status} ${await res.text()}`);
  }

  async scrape(): Promise<string> {
    const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5_000) });
    return res.text();
  }

  /**
   * Closed-loop load: `users` clients, each POSTing /appointments, waiting for the answer, then `thinkMs`, again,
   * until the handle's stop() or `maxSeconds` (setThink changes the pause). A fixed number of clients is what keeps a slow database's pool
   * saturated without an ever-growing queue (no request waits for the pool's connection timeout). Counts answers by
   * status ("error" for connection failures).
   */
  traffic(users: number, thinkMs: number, maxSeconds = 600): { counts: Record<string, number>; setThink(ms: number): void; stop(): Promise<void> } {
    const counts: Record<string, number> = {};
    let think = thinkMs;
    let stopped = false;
    const deadline = Date.now() + maxSeconds * 1000;
    const user = async () => {
      while (!stopped && Date.now() < deadline) {
        let key = "error";
        try {
          const res = await fetch(`${this.base}/appointments`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ patient: "e2e", startsAt: new Date().toISOString() }),
            signal: AbortSignal.timeout(15_000),
          });
          await res.arrayBuffer();
          key = String(res.status);
        } catch {
          // Connection refused once the app is stopped: back off instead of spinning.
          await sleep(200);
        }
        counts[key] = (counts[key] ?? 0) + 1;
        await sleep(think);
      }
    };
    const all = Promise.all(Array.from({ length: users }, user));
    return {
      counts,
      setThink: (ms: number) => {
        think = ms;
      },
      stop: async () => {
        stopped = true;
        await all;
      },
    };
  }
}
