/**
 * Real Prometheus and Alertmanager servers for tests, on 127.0.0.1 only.
 *
 * - `freePort()` picks a free loopback port; `startDaemon` waits (bounded) for `GET /-/ready` and kills the process
 *   if it never gets there, putting the tail of its output into the error.
 * - Every daemon started here is registered; `stopAll()` (call it in an `after` hook) stops them: SIGTERM, then
 *   SIGKILL when one does not exit within the timeout. A process `exit` hook SIGKILLs whatever is still running,
 *   so a crashed or interrupted mocha run leaves no server behind either.
 * - `withFlags` swaps the values of a few `--flag=value` command-line flags (paths and addresses that differ in a
 *   test) and refuses to invent flags the rendered list does not have.
 */
import { spawn, ChildProcess } from "child_process";
import * as net from "net";

export const LOOPBACK = "127.0.0.1";

export interface Daemon {
  name: string;
  cmd: string;
  args: string[];
  port: number;
  /** `http://127.0.0.1:<port>` */
  base: string;
  proc: ChildProcess;
  pid: number;
  /** stdout and stderr so far (the last 200 kB). */
  output(): string;
  /** Whether the process is still running. */
  running(): boolean;
  /** Resolves once the process has exited (immediately when it already has). */
  exited(): Promise<void>;
  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Label for messages, e.g. "prometheus". */
  name: string;
  cmd: string;
  args: string[];
  /** The port given in its listen-address flag: readiness is probed there. */
  port: number;
  /** Readiness endpoint; both Prometheus and Alertmanager answer `/-/ready` with 200 once ready. */
  readyPath?: string;
  readyTimeoutMs?: number;
  /** Extra environment variables (on top of this process's environment). */
  env?: Record<string, string>;
  cwd?: string;
}

const OUTPUT_LIMIT = 200_000;
const running = new Set<Daemon>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort (mocha killed by an exception, ^C): synchronous, so only a signal can be sent here.
  process.on("exit", () => {
    for (const d of running) {
      try {
        d.proc.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
  });
}

/** A port nothing listens on right now (bound and released on 127.0.0.1; the OS does not hand it out again at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, LOOPBACK, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `probe` every `intervalMs` until it returns something other than `undefined` (errors count as "not yet",
 * except errors with `fatal: true`, which end the wait at once) and returns that; throws after `timeoutMs` with `what`, the last error and `detail()` (e.g. a daemon's output).
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { intervalMs?: number; detail?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      // A probe that knows waiting cannot help (the daemon exited) ends the wait at once.
      if ((e as { fatal?: boolean })?.fatal) {
        throw new Error(`${what}: ${String(e)}${opts.detail ? `\n--- ${opts.detail()}` : ""}`);
      }
      last = e;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(opts.intervalMs ?? 250, Math.max(0, deadline - Date.now())));
  }
  const detail = opts.detail ? `\n--- ${opts.detail()}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}${detail}`);
}

/** Replaces `--name=...` flags (paths and addresses that differ in a test) and keeps every other flag as rendered. */
export function withFlags(flags: string[], replacements: Record<string, string>): string[] {
  const names = Object.keys(replacements);
  for (const n of names) {
    if (!flags.some((f) => f.startsWith(`${n}=`))) throw new Error(`rendered flags lack ${n}: ${flags.join(" ")}`);
  }
  return flags.map((f) => {
    const n = names.find((name) => f.startsWith(`${name}=`));
    return n ? `${n}=${replacements[n]}` : f;
  });
}

/** Starts `cmd args` and waits until `http://127.0.0.1:<port><readyPath>` answers 200. Kills it when it does not. */
export async function startDaemon(o: StartOptions): Promise<Daemon> {
  installExitHook();
  const proc = spawn(o.cmd, o.args, { stdio: ["ignore", "pipe", "pipe"], cwd: o.cwd, env: o.env ? { ...process.env, ...o.env } : undefined });
  let out = "";
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  proc.stdout!.on("data", append);
  proc.stderr!.on("data", append);
  let spawnError: Error | undefined;
  proc.once("error", (e) => (spawnError = e));
  const exitedP = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once("exit", () => resolve());
  });
  const isRunning = () => proc.exitCode === null && proc.signalCode === null && !spawnError;
  const d: Daemon = {
    name: o.name,
    cmd: o.cmd,
    args: o.args,
    port: o.port,
    base: `http://${LOOPBACK}:${o.port}`,
    proc,
    pid: proc.pid ?? -1,
    output: () => out,
    running: isRunning,
    exited: () => exitedP,
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000) {
      if (isRunning()) {
        proc.kill(signal);
        const timer = setTimeout(() => {
          if (isRunning()) proc.kill("SIGKILL");
        }, timeoutMs);
        await exitedP;
        clearTimeout(timer);
      }
      running.delete(d);
    },
  };
  running.add(d);
  const readyPath = o.readyPath ?? "/-/ready";
  try {
    await waitFor(
      `${o.name} ready on ${d.base}${readyPath}`,
      o.readyTimeoutMs ?? 30_000,
      async () => {
        if (spawnError) throw Object.assign(new Error(`cannot start ${o.cmd}: ${spawnError.message}`), { fatal: true });
        if (!isRunning()) throw Object.assign(new Error(`${o.name} exited (code ${proc.exitCode}, signal ${proc.signalCode})`), { fatal: true });
        const res = await fetch(`${d.base}${readyPath}`, { signal: AbortSignal.timeout(2_000) });
        return res.ok ? true : undefined;
      },
      { detail: () => `${o.name} output (tail):\n${out.slice(-3000)}` },
    );
  } catch (e) {
    await d.stop("SIGKILL");
    throw e;
  }
  if (!isRunning()) throw new Error(`${o.name} exited right after becoming ready:\n${out.slice(-3000)}`);
  return d;
}

/** Stops every daemon this module started and that is still registered (for `after` hooks). */
export async function stopAll(timeoutMs = 10_000): Promise<void> {
  await Promise.all([...running].map((d) => d.stop("SIGTERM", timeoutMs)));
}

/** Stops the given daemons (and only those). */
export async function stopDaemons(daemons: Iterable<Daemon | undefined>, timeoutMs = 10_000): Promise<void> {
  await Promise.all([...daemons].filter((d): d is Daemon => !!d).map((d) => d.stop("SIGTERM", timeoutMs)));
}
