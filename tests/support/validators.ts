/**
 * Runs the real offline validators (promtool, amtool, cloud-init, systemd-analyze, shellcheck) on rendered files.
 *
 * In CI (`CI=true`) a missing validator is a failure: .ci/run installs them all. On a laptop without them the
 * calling test is skipped with a loud message instead, so `npm test` still runs everything else.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

const found = new Map<string, boolean>();

export function hasTool(tool: string): boolean {
  if (!found.has(tool)) found.set(tool, spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0);
  return found.get(tool)!;
}

/**
 * Call at the top of a test (with mocha's `this`) before using `tool`. Throws in CI when it is missing; skips the
 * test otherwise.
 */
export function requireTool(ctx: Mocha.Context, tool: string): void {
  if (hasTool(tool)) return;
  const msg = `${tool} is not installed: install the Debian packages .ci/run installs (prometheus prometheus-alertmanager cloud-init shellcheck openssh-server)`;
  if (process.env.CI) throw new Error(`${msg} (CI must have every validator)`);
  console.warn(`\n  !!! SKIPPED: ${msg}\n`);
  ctx.skip();
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number; env?: Record<string, string | undefined> } = {},
): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input,
    env: opts.env ? { ...process.env, ...opts.env } : undefined,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = "monhost-"): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `files` (relative path → content) under `dir`. */
export function writeTree(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}
