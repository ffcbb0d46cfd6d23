/**
 * Prometheus' size-based retention comes from the filesystem its TSDB is on, at every start
 * (host-agent/prometheus-start.sh), not from the configured volume size: the real Prometheus started through
 * the wrapper with the rendered flags reports the computed size, and on a real XFS filesystem a grown device whose
 * filesystem was not grown keeps the old limit until `xfs_growfs`.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { hostScript } from "../hostfiles/templates";
import { AGENT, SERVICES } from "../layout/host-layout";
import { PROMETHEUS_VOLUME_SHARE_PERCENT, prometheusFlags } from "../hostfiles/services/flags";
import { unitFiles } from "../hostfiles/units";
import { freePort, startDaemon, stopAll, withFlags } from "./support/daemons";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

/** What the wrapper must compute for `dir`: the share of the filesystem's size, in MiB (Prometheus' MB). */
function expectedMiB(dir: string): number {
  const s = fs.statfsSync(dir);
  return Math.floor((s.blocks * s.bsize * PROMETHEUS_VOLUME_SHARE_PERCENT) / 100 / 1048576);
}

describe("Prometheus retention size from the filesystem (prometheus-start)", function () {
  this.timeout(120_000);
  let t: ReturnType<typeof tempDir>;
  let wrapper: string;
  before(() => {
    t = tempDir("monhost-retention-");
    wrapper = path.join(t.dir, "prometheus-start");
    fs.writeFileSync(wrapper, hostScript("prometheus-start.sh"), { mode: 0o755 });
  });
  after(async () => {
    await stopAll();
    t.cleanup();
  });

  it("is the unit's ExecStart, with the share and the TSDB path, and passes shellcheck", function () {
    const unit = unitFiles(stackConfig("prd")).find((f) => f.path.endsWith("/prometheus.service"))!.content;
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1].split(" ");
    assert.deepEqual(exec.slice(0, 4), [AGENT.prometheusStart, String(PROMETHEUS_VOLUME_SHARE_PERCENT), SERVICES.prometheus.dataDir, SERVICES.prometheus.bin]);
    assert.ok(!exec.some((w) => w.startsWith("--storage.tsdb.retention.size")));
    requireTool(this, "shellcheck");
    const r = run("shellcheck", [wrapper]);
    assert.equal(r.status, 0, r.stdout);
  });

  it("starts the real Prometheus with the rendered flags plus the size computed from the TSDB's filesystem", async function () {
    requireTool(this, "prometheus");
    const data = path.join(t.dir, "data");
    fs.mkdirSync(data);
    const config = path.join(t.dir, "prometheus.yml");
    fs.writeFileSync(config, "global:\n  scrape_interval: 15s\n");
    const port = await freePort();
    const flags = withFlags(prometheusFlags(stackConfig("dev")), {
      "--config.file": config,
      "--storage.tsdb.path": data,
      "--web.listen-address": `127.0.0.1:${port}`,
    });
    // Prometheus 2.42 here: the 3.x-only feature flag of the rendered list is dropped (its value is not checked).
    const args = [String(PROMETHEUS_VOLUME_SHARE_PERCENT), data, "/usr/bin/prometheus", ...flags.filter((f) => !f.startsWith("--enable-feature"))];
    const d = await startDaemon({ name: "prometheus", cmd: wrapper, args, port });
    const status = (await (await fetch(`${d.base}/api/v1/status/flags`)).json()) as { data: Record<string, string> };
    // Prometheus prints the size back in binary units ("151GiB187MiB").
    const units: Record<string, number> = { TiB: 1048576, GiB: 1024, MiB: 1 };
    const shown = status.data["storage.tsdb.retention.size"];
    const mib = [...shown.matchAll(/(\d+)(TiB|GiB|MiB)/g)].reduce((n, m) => n + Number(m[1]) * units[m[2]], 0);
    assert.equal(mib, expectedMiB(data), shown);
    assert.ok(status.data["storage.tsdb.retention.time"], "the rendered time limit is kept as well");
    assert.match(d.output(), new RegExp(`prometheus-start: retention size ${expectedMiB(data)}MB`));
  });

  it("refuses a share outside 1-99 % instead of starting without a limit", () => {
    for (const share of ["0", "100", "60%", ""]) {
      const r = run(wrapper, [share, t.dir, "/bin/echo"]);
      assert.equal(r.status, 2, `share ${share}: ${r.stdout}`);
      assert.match(r.stderr, /share must be a whole percentage/);
    }
  });

  it("on XFS: a device grown without xfs_growfs keeps the old limit; after xfs_growfs the new size is used", function () {
    const missing = ["mkfs.xfs", "xfs_growfs", "losetup", "mount"].filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0);
    if (process.getuid?.() !== 0 || missing.length > 0) {
      console.warn(`\n  !!! SKIPPED: needs root and ${missing.join(", ") || "loop devices"} (a real XFS on a loop device)\n`);
      this.skip();
    }
    const img = path.join(t.dir, "volume.img");
    const mnt = path.join(t.dir, "mnt");
    fs.mkdirSync(mnt);
    fs.writeFileSync(img, "");
    fs.truncateSync(img, 512 * 1048576);
    const loop = run("losetup", ["--find", "--show", img]).stdout.trim();
    try {
      assert.equal(run("mkfs.xfs", ["-q", loop]).status, 0);
      assert.equal(run("mount", [loop, mnt]).status, 0);
      try {
        const size = () => {
          const r = run(wrapper, [String(PROMETHEUS_VOLUME_SHARE_PERCENT), mnt, "/bin/echo"]);
          assert.equal(r.status, 0, r.stderr);
          return Number(/--storage\.tsdb\.retention\.size=(\d+)MB/.exec(r.stdout)![1]);
        };
        const before = size();
        assert.equal(before, expectedMiB(mnt));
        assert.ok(before > 200 && before < 0.6 * 512, `${before} MiB`);
        // The EBS volume grows (here: the loop device), the filesystem does not yet.
        fs.truncateSync(img, 1024 * 1048576);
        assert.equal(run("losetup", ["--set-capacity", loop]).status, 0);
        assert.equal(size(), before, "the limit must follow the filesystem, not the device");
        const grow = run("xfs_growfs", [mnt]);
        assert.equal(grow.status, 0, grow.stderr);
        const after = size();
        assert.equal(after, expectedMiB(mnt));
        assert.ok(after > 1.8 * before, `${after} MiB after growing from ${before} MiB`);
      } finally {
        run("umount", [mnt]);
      }
    } finally {
      run("losetup", ["--detach", loop]);
    }
  });
});
