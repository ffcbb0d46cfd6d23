/**
 * `npm run bench:boot`: how long the rendered host takes, booted for real (tests/boot/host.ts: systemd-nspawn,
 * cloud-init NoCloud, loopback AWS, real Prometheus/Alertmanager/node_exporter, stand-ins for the others):
 *
 *   first boot → healthy   container start on a blank volume until `monitoring-health` passes (cloud-init,
 *                          bundle fetch, release downloads and checksums, mkfs, users, units, every service up);
 *   config change → applied new bundle in S3 until `monitoring-health --expect-etag` passes (sync, apply, reload);
 *   reboot → healthy       power-off and start on the same root until `monitoring-health` passes.
 *
 * Median (and min/max) of N runs (default 3, BENCH_RUNS=n), each on a fresh root and volume. Needs root and what
 * .ci/run installs. Usage: npm run bench:boot [-- <stack>]   (a committed x86_64 stack, as in the boot test)
 */
import { BootLab } from "../tests/boot/host";
import { missingPrerequisites } from "../tests/boot/host";
import { stackConfig } from "../tests/support/stacks";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const stack = process.argv[2] ?? "dev";

const missing = missingPrerequisites();
if (missing.length) {
  console.error(`bench:boot needs ${missing.join(", ")}`);
  process.exit(1);
}

const cfg = stackConfig(stack);
const seconds = (t0: number) => (Date.now() - t0) / 1000;
const figures: Record<string, number[]> = { "first boot → healthy": [], "config change → applied": [], "reboot → healthy": [] };

const lab = BootLab.create();
try {
  for (let run = 1; run <= RUNS; run++) {
    const host = lab.host({ cfg });
    let t0 = Date.now();
    host.boot();
    host.waitHealthy({ timeoutSec: 300 });
    figures["first boot → healthy"].push(seconds(t0));

    t0 = Date.now();
    const etag = host.upload({ ...host.cfg, runbookBaseUrl: `${(cfg.runbookBaseUrl ?? "https://runbooks.acme.internal").replace(/\/$/, "")}/bench-${run}` });
    const res = host.healthCheck({ expectEtag: etag, timeoutSec: 300 });
    if (res.status !== 0) throw new Error(`config change not applied:\n${res.stdout}`);
    figures["config change → applied"].push(seconds(t0));

    t0 = Date.now();
    host.poweroff();
    host.boot();
    host.waitHealthy({ timeoutSec: 300 });
    figures["reboot → healthy"].push(seconds(t0));
    host.poweroff();
    console.log(`run ${run}/${RUNS}: ${Object.entries(figures).map(([k, v]) => `${k} ${v[v.length - 1].toFixed(1)} s`).join(", ")}`);
  }
} finally {
  lab.teardown();
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`\nbench:boot (${stack}, ${cfg.architecture}), ${RUNS} runs, seconds:`);
for (const [name, v] of Object.entries(figures)) {
  console.log(`  ${name.padEnd(26)} median ${median(v).toFixed(1).padStart(6)}   min ${Math.min(...v).toFixed(1).padStart(6)}   max ${Math.max(...v).toFixed(1).padStart(6)}`);
}
console.log("  (the config change includes the sync unit's fetch: monitoring-health --expect-etag starts the poll at once;");
console.log("   without it the timer's 90 s period adds up to 90 s)");
