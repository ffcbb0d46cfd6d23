/**
 * The URN guard's variants and runner (tests/urns.spec.ts). Each variant is the program (index.ts) on a committed
 * stack with config overrides, run under mocks in its own process (tests/support/urn-child.ts).
 *
 * Record the fixtures at a commit whose URNs are the reference (they were recorded at a644de9, before issue 14's
 * re-floor), running this file from that commit's tree with the child copied in:
 *   npx tsx tests/support/urns.ts --record <directory for urns-*.json>
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { Registration } from "./urn-child";

/** `fixture`: the recorded URNs to compare with, when not the variant's own (urns-<id>.json). */
export const URN_VARIANTS: { id: string; fixture?: string; stack: string; overrides: Record<string, unknown> }[] = [
  { id: "dev", stack: "dev", overrides: {} },
  { id: "prd", stack: "prd", overrides: {} },
  // remoteWrite (docs/remote-write.md): an existing workspace (dev), a created one (prd), as tests/remote-write.spec.ts.
  { id: "dev-remote-write", stack: "dev", overrides: { remoteWrite: { workspace: "ws-b226cc2a-a446-46a9-933a-ac50479a5568" } } },
  { id: "prd-remote-write", stack: "prd", overrides: { remoteWrite: { workspace: "create" } } },
  // No deploy verification command, ssh access instead of SSM (tests/components.spec.ts).
  { id: "dev-no-verify", stack: "dev", overrides: { verifyDeploy: false } },
  { id: "dev-ssh", stack: "dev", overrides: { accessMode: "ssh", sshAdminCidrs: ["192.168.10.0/24"] } },
  // A single host becoming an HA pair (docs/ha-pair.md) keeps every resource it had: the pair only adds.
  { id: "dev-pair", fixture: "dev", stack: "dev", overrides: { hosts: 2, secondSubnetId: "subnet-00000000000000001" } },
  { id: "prd-pair", fixture: "prd", stack: "prd", overrides: { hosts: 2, secondSubnetId: "subnet-00000000000000001" } },
];

/** Every resource the program registers for a stack with overrides, in registration order. */
export function registrations(stack: string, overrides: Record<string, unknown> = {}): Promise<Registration[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--require", "tsx/cjs", path.join(__dirname, "urn-child.ts"), stack, JSON.stringify(overrides)],
      { encoding: "utf8", timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        if (!line.startsWith("[")) reject(new Error(`program run printed no registrations (${err?.message ?? "no error"}):\n${stdout}\n${stderr}`));
        else resolve(JSON.parse(line) as Registration[]);
      },
    );
  });
}

/** Runs `jobs` at most `width` at a time (each variant is a process of its own loading the whole program). */
export async function inBatches<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]();
      }
    }),
  );
  return out;
}

if (require.main === module) {
  const [flag, dir] = process.argv.slice(2);
  if (flag !== "--record" || !dir) throw new Error("usage: npx tsx tests/support/urns.ts --record <directory>");
  void record(dir);
}

async function record(dir: string): Promise<void> {
  for (const v of URN_VARIANTS.filter((x) => !x.fixture)) {
    const urns = (await registrations(v.stack, v.overrides)).map((r) => r.urn).sort();
    fs.writeFileSync(path.join(dir, `urns-${v.id}.json`), JSON.stringify(urns, null, 2) + "\n");
    console.log(`urns-${v.id}.json: ${urns.length} URNs`);
  }
}
