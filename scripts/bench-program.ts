/**
 * `npm run bench:program`: how long `pulumi up`/`preview` spends loading this program and registering every
 * resource of the prd stack (under mocks: no engine, no providers), against the floor of merely importing
 * @pulumi/pulumi and @pulumi/aws. Each run is a fresh process; prints median and min of N runs.
 */
import { spawnSync } from "child_process";
import * as path from "path";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const child = path.join(__dirname, "bench", "program-child.js");
const stack = process.argv[2] ?? "prd";

function measure(mode: string, env: Record<string, string> = {}): { median: number; min: number; resources: number } {
  const times: number[] = [];
  let resources = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [child, mode, stack], { encoding: "utf8", timeout: 120_000, env: { ...process.env, ...env } });
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${mode} run failed:\n${r.stdout}\n${r.stderr}`);
    resources = JSON.parse(r.stdout.trim().split("\n").pop()!).resources;
    times.push(wall);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], resources };
}

const floor = measure("floor");
// ts-node caches compiled files between runs: an unchanged program starts equally fast either way. The first run
// after a code change compiles everything again; that is where type-checking costs.
const fast = measure("program-fast");
const checked = measure("program-checked");
const fastCold = measure("program-fast", { BENCH_TS_CACHE: "0" });
const checkedCold = measure("program-checked", { BENCH_TS_CACHE: "0" });
const row = (name: string, m: { median: number; min: number; resources: number }) =>
  `${name.padEnd(44)} ${m.median.toFixed(0).padStart(7)} ms  (min ${m.min.toFixed(0)} ms)` +
  (m.resources ? `  ${m.resources} resources` : "") +
  `  ×${(m.median / floor.median).toFixed(2)} floor`;
console.log(`bench:program — stack ${stack}, ${RUNS} fresh processes each, wall time including node start-up`);
console.log(row("floor: import @pulumi/pulumi + @pulumi/aws", floor));
console.log(row("program, transpile only (noCheck: our setting)", fast));
console.log(row("program, type-checked (Pulumi default)", checked));
console.log(row("after a code change, transpile only", fastCold));
console.log(row("after a code change, type-checked", checkedCold));
console.log(
  `type-checking costs ${(checked.median - fast.median).toFixed(0)} ms on an unchanged program (ts-node cache) and ` +
    `${(checkedCold.median - fastCold.median).toFixed(0)} ms after a code change; npm test type-checks once (tsc --noEmit) instead.`,
);
