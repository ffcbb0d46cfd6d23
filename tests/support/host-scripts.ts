/** Running the host agent's scripts (host-agent/*.sh) in tests: one function at a time, with fake tools first on PATH. */
import * as fs from "fs";
import * as path from "path";
import { hostScript, HostScriptName } from "../../hostfiles/templates";
import { run } from "./validators";

/**
 * Runs one function of a host script (sourced, so `main` does not run) with PATH starting at `fakeBin`; the real
 * tools (jq, install, tar, systemd-sysusers) come from /usr/bin.
 */
export function runScriptFunction(script: HostScriptName, call: string, env: Record<string, string>, fakeBin: string) {
  const file = path.join(path.dirname(fakeBin), `script-${script}`);
  fs.writeFileSync(file, hostScript(script));
  return run("env", [
    `PATH=${fakeBin}:/usr/bin:/bin`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    "bash",
    "-c",
    `set -euo pipefail; source "${file}"; ${call}`,
  ]);
}

/** Writes an executable fake tool into `bin`. */
export function fake(bin: string, name: string, body: string): void {
  fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}

/** A bootstrap.json as user data writes it, with the agent's state below `stateDir`. */
export function bootstrapJson(file: string, settings: Record<string, string>): string {
  fs.writeFileSync(file, JSON.stringify(settings));
  return file;
}
