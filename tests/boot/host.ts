/**
 * Boots a rendered monitoring host for real: a Debian root filesystem (tests/boot/rootfs.ts) in systemd-nspawn with
 * systemd as PID 1, cloud-init reading the rendered user data through NoCloud, and a private network namespace
 * with loopback only, where tests/boot/fake-aws.ts answers for S3, SSM, IMDS and the release downloads. The real
 * AWS CLI, curl, sshd, Prometheus, Alertmanager and node_exporter run unmodified under the rendered units.
 *
 * Reusable (the boot test, `npm run bench:boot`, and anyone who wants to run runbook commands on a booted host):
 *
 *   const lab = BootLab.create();                     // netns, fake AWS, CA, release archives (needs root)
 *   const host = lab.host({ cfg: stackConfig("dev") }); // rendered user data + bundle, uploaded to the fake S3
 *   host.boot(); host.waitHealthy();
 *   host.exec("systemctl status prometheus").stdout;   // as root inside the guest
 *   host.exec("amtool silence query", { user: "ec2-user" });
 *   host.ssh("sudo journalctl -u monitoring-apply");     // over the real sshd, with a key from the bundle
 *   host.poweroff(); lab.teardown();                   // also run at process exit, whatever happened
 *
 * What differs from EC2, all here and nowhere else (none of it changes a rendered file):
 *   - the guest is Debian 12 with systemd 252 and cloud-init 22.4, not Amazon Linux 2023: cloud-init is told to use
 *     NoCloud, the C.UTF-8 locale and a default user named ec2-user; apt has no sources (the one package user data
 *     lists, jq, is preinstalled, and `apt-get update` then succeeds offline); Debian's sshd unit is ssh.service
 *     with the alias sshd.service;
 *   - the guest's /etc/hosts maps the AWS and download host names to 127.0.0.1, and a throwaway CA is in its trust
 *     store (Debian's AWS CLI 2.9 predates AWS_ENDPOINT_URL);
 *   - Debian's Alertmanager build reads its notification templates from /usr/share/prometheus/alertmanager: the
 *     guest gets a copy (the upstream release embeds them);
 *   - the data volume is a sparse file on a loop device, bound in at the Nitro by-id path of the stack's volume id
 *     (`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`, which udev creates on EC2; a container has no udev).
 *     systemd mounts it with the mount unit user data wrote, at first boot (started by the apply step after
 *     formatting a blank volume) and at every later boot; without udev it does not wait for a late device (the
 *     device unit's timeout is EC2-only); a missing volume is a boot without it;
 *   - a reboot is a power-off and a new nspawn on the same root (what systemd-nspawn@.service does on exit 133).
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "../../config/stack-config";
import { renderBundle } from "../../hostfiles/bundle";
import { dataVolumeDevice } from "../../layout/host-layout";
import { secretFiles } from "../../hostfiles/secrets";
import { AMI_DEFAULT_USER, renderUserData } from "../../hostfiles/user-data";
import { BundleContext, placeholderBundleContext, placeholderUserDataContext, UserDataContext } from "../../layout/host-file";
import { buildReleases, DEBIAN_ALERTMANAGER_ASSETS, StandInReleases, withStandInDigests } from "./releases";
import { ensureLowerDir } from "./rootfs";

const REPO = path.resolve(__dirname, "../..");
const GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What the boot test needs on the machine; the boot test skips (loudly) or fails (CI) when one is missing. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (systemd-nspawn, loop devices and network namespaces need it)");
  for (const tool of ["systemd-nspawn", "nsenter", "losetup", "blkid", "sfdisk", "ip", "openssl", "mmdebstrap", "mkfs.xfs", "ssh", "ssh-keygen"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) missing.push(tool);
  }
  for (const bin of ["/usr/bin/prometheus", "/usr/bin/promtool", "/usr/bin/prometheus-alertmanager", "/usr/bin/amtool", "/usr/bin/prometheus-node-exporter"]) {
    if (!fs.existsSync(bin)) missing.push(bin);
  }
  if (!fs.existsSync(DEBIAN_ALERTMANAGER_ASSETS)) missing.push(DEBIAN_ALERTMANAGER_ASSETS);
  if (!fs.readFileSync("/proc/filesystems", "utf8").includes("overlay")) missing.push("overlayfs");
  return missing;
}

function sh(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; allowFail?: boolean } = {}): SpawnSyncReturns<string> {
  const res = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeoutMs ?? 120_000, input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (!opts.allowFail && res.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${res.status ?? res.signal}): ${res.stderr || res.error?.message || ""}`);
  }
  return res;
}

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Cleanup steps, run in reverse at teardown and, whatever happened, at process exit. */
class Cleanups {
  private steps: { name: string; fn: () => void }[] = [];
  add(name: string, fn: () => void): () => void {
    const step = { name, fn };
    this.steps.push(step);
    return () => {
      this.steps = this.steps.filter((s) => s !== step);
      fn();
    };
  }
  runAll(): void {
    for (const s of this.steps.reverse()) {
      try {
        s.fn();
      } catch (e) {
        process.stderr.write(`boot test cleanup (${s.name}): ${(e as Error).message}\n`);
      }
    }
    this.steps = [];
  }
}

export interface LabOptions {
  /** Regions whose S3/SSM host names the certificate must cover (default: eu-west-1 and us-east-1). */
  regions?: string[];
  /** Kept for debugging when set. */
  keep?: boolean;
}

/** One lab per run: the network namespace with the fake AWS, the release archives, and the data volumes. */
export class BootLab {
  readonly id: string;
  readonly dir: string;
  readonly netns: string;
  readonly state: string;
  readonly lower: string;
  private readonly cleanups = new Cleanups();
  private readonly exitHook = () => this.cleanups.runAll();
  private server?: ChildProcess;
  private standIns = new Map<string, StandInReleases>();
  private regions: string[];

  private static count = 0;

  static create(opts: LabOptions = {}): BootLab {
    return new BootLab(opts);
  }

  private constructor(opts: LabOptions) {
    this.id = `${process.pid}-${Date.now().toString(36)}`;
    this.dir = fs.mkdtempSync("/var/tmp/monitoring-boot-");
    // Unique per lab (several labs may live in one process, one after another or side by side).
    this.netns = `mh-boot-${process.pid}-${++BootLab.count}`;
    this.state = path.join(this.dir, "aws");
    this.regions = opts.regions ?? ["eu-west-1", "us-east-1"];
    process.on("exit", this.exitHook);
    if (!opts.keep) this.cleanups.add("remove lab dir", () => fs.rmSync(this.dir, { recursive: true, force: true }));
    this.lower = ensureLowerDir();
    fs.mkdirSync(path.join(this.state, "objects"), { recursive: true });
    this.makeCertificates();
    this.startNetns();
    this.startServer();
  }

  /** A throwaway CA and one server certificate for every name the guest maps to loopback. */
  private makeCertificates(): void {
    const c = path.join(this.dir, "ca");
    fs.mkdirSync(c);
    const names = ["github.com", "objects.githubusercontent.com", "dl.grafana.com", "s3.amazonaws.com", "*.s3.amazonaws.com"];
    for (const r of this.regions) names.push(`s3.${r}.amazonaws.com`, `*.s3.${r}.amazonaws.com`, `ssm.${r}.amazonaws.com`);
    fs.writeFileSync(path.join(c, "ext.cnf"), `basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
    const o = (args: string[]) => sh("openssl", args, { timeoutMs: 60_000 });
    o(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=monitoring-hosts boot test CA", "-keyout", `${c}/ca.key`, "-out", `${c}/ca.crt`,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    o(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=boot-test", "-keyout", `${c}/server.key`, "-out", `${c}/server.csr`]);
    o(["x509", "-req", "-in", `${c}/server.csr`, "-CA", `${c}/ca.crt`, "-CAkey", `${c}/ca.key`, "-CAcreateserial", "-days", "2", "-out", `${c}/server.crt`, "-extfile", `${c}/ext.cnf`]);
  }

  private startNetns(): void {
    sh("ip", ["netns", "add", this.netns]);
    this.cleanups.add("delete netns", () => sh("ip", ["netns", "delete", this.netns], { allowFail: true }));
    sh("ip", ["-n", this.netns, "link", "set", "lo", "up"]);
    // IMDS' link-local address, on loopback: only this namespace can reach it.
    sh("ip", ["-n", this.netns, "addr", "add", "169.254.169.254/32", "dev", "lo"]);
  }

  private startServer(): void {
    const log = fs.openSync(path.join(this.dir, "fake-aws.log"), "a");
    const tsx = path.join(REPO, "node_modules/.bin/tsx");
    const c = path.join(this.dir, "ca");
    this.server = spawn("ip", ["netns", "exec", this.netns, tsx, path.join(__dirname, "fake-aws.ts"), this.state, `${c}/server.crt`, `${c}/server.key`], {
      stdio: ["ignore", log, log],
      detached: true,
    });
    const pid = this.server.pid!;
    fs.writeFileSync(path.join(this.dir, "fake-aws.pid"), `${pid}\n`);
    this.cleanups.add("stop fake AWS", () => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      fs.rmSync(path.join(this.dir, "fake-aws.pid"), { force: true });
    });
    const ready = path.join(this.state, "ready");
    for (let i = 0; i < 300 && !fs.existsSync(ready); i++) sleepMs(100);
    if (!fs.existsSync(ready)) throw new Error(`fake AWS did not start: ${fs.readFileSync(path.join(this.dir, "fake-aws.log"), "utf8")}`);
  }

  /** Release archives for an architecture (built once per lab), served under the pinned URLs. */
  releases(architecture: StackConfig["architecture"]): StandInReleases {
    if (!this.standIns.has(architecture)) {
      this.standIns.set(architecture, buildReleases(architecture, path.join(this.state, "releases")));
    }
    return this.standIns.get(architecture)!;
  }

  /** Puts an object into the fake S3 (creating its bucket); returns its ETag as S3 reports it (quoted MD5). */
  putObject(bucket: string, key: string, content: string): string {
    const file = path.join(this.state, "objects", bucket, key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, content);
    fs.renameSync(`${file}.tmp`, file);
    return `"${createHash("md5").update(content).digest("hex")}"`;
  }

  removeBucket(bucket: string): void {
    fs.rmSync(path.join(this.state, "objects", bucket), { recursive: true, force: true });
  }

  /** IAM actions the instance role is denied from now on (e.g. ["s3:GetObject"]); [] restores them. */
  deny(actions: string[]): void {
    fs.writeFileSync(path.join(this.state, "deny.json"), JSON.stringify(actions));
  }

  setParameters(params: Record<string, string>): void {
    const file = path.join(this.state, "params.json");
    const current = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>) : {};
    fs.writeFileSync(file, JSON.stringify({ ...current, ...params }));
  }

  /** Requests the fake AWS saw (JSON lines), for assertions such as "signed for the stack's region". */
  requests(): Record<string, unknown>[] {
    const f = path.join(this.state, "requests.jsonl");
    if (!fs.existsSync(f)) return [];
    return fs.readFileSync(f, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** A blank data volume: a sparse file on a loop device (detached at teardown). */
  volume(sizeGiB = 2): DataVolume {
    const file = path.join(this.dir, `volume-${fs.readdirSync(this.dir).filter((f) => f.startsWith("volume-")).length}.img`);
    fs.writeFileSync(file, "");
    fs.truncateSync(file, sizeGiB * 1024 ** 3);
    const loop = sh("losetup", ["--find", "--show", file]).stdout.trim();
    this.cleanups.add(`detach ${loop}`, () => {
      sh("umount", ["--lazy", loop], { allowFail: true });
      sh("losetup", ["--detach", loop], { allowFail: true });
    });
    return { file, loop };
  }

  /** Writes an empty GPT partition table onto a volume (from outside, on the loop device). */
  partition(volume: DataVolume): void {
    sh("sfdisk", ["--quiet", "--wipe", "always", volume.loop], { input: "label: gpt\n" });
  }

  /** One blkid value of a volume, probed from outside ("" when absent). */
  probe(volume: DataVolume, tag: string): string {
    return sh("blkid", ["-p", "-s", tag, "-o", "value", volume.loop], { allowFail: true }).stdout.trim();
  }

  /** A host of this stack: renders its user data and bundle and puts the bundle into the fake S3. */
  host(opts: HostOptions): GuestHost {
    return new GuestHost(this, opts, this.cleanups);
  }

  /** Stops everything this lab started: guests, fake AWS, namespace, loop devices, mounts, files. */
  teardown(): void {
    this.cleanups.runAll();
    process.removeListener("exit", this.exitHook);
  }
}

export interface DataVolume {
  file: string;
  loop: string;
}

export interface HostOptions {
  cfg: StackConfig;
  /** Default to the offline placeholder contexts of the stack (bucket and volume names marked as placeholders). */
  ctx?: BundleContext;
  userDataCtx?: UserDataContext;
  volume?: DataVolume;
  /** Instance id in the NoCloud meta-data; a new one makes cloud-init treat the boot as a new instance. */
  instanceId?: string;
  /** false: the config bucket does not exist (a wrong bucket in user data). */
  bucketExists?: boolean;
  /** Extra system users created in the new root before its first boot, to shift the service users' uids. */
  uidShift?: number;
}

/** A guest root (an overlay over the cached rootfs) and the container booted on it. */
export class GuestHost {
  readonly cfg: StackConfig;
  readonly ctx: BundleContext;
  readonly userDataCtx: UserDataContext;
  readonly volume: DataVolume;
  readonly name: string;
  readonly root: string;
  readonly sshKey: string;
  etag: string;
  private upper: string;
  private work: string;
  private nspawn?: ChildProcess;
  private leaderPid = 0;
  private bootCount = 0;
  private consoleLog: string;
  private instanceId: string;

  constructor(
    private readonly lab: BootLab,
    opts: HostOptions,
    private readonly cleanups: Cleanups,
  ) {
    this.ctx = opts.ctx ?? placeholderBundleContext(opts.cfg.stack);
    this.userDataCtx = opts.userDataCtx ?? placeholderUserDataContext(opts.cfg.stack);
    this.volume = opts.volume ?? lab.volume();
    this.instanceId = opts.instanceId ?? `i-boot${Date.now().toString(16)}`;
    this.name = `mh-${this.instanceId.slice(-10)}`;
    const base = path.join(lab.dir, this.name);
    this.root = path.join(base, "root");
    this.upper = path.join(base, "upper");
    this.work = path.join(base, "work");
    this.consoleLog = path.join(base, "console.log");
    for (const d of [this.root, this.upper, this.work]) fs.mkdirSync(d, { recursive: true });
    // The ssh key the test logs in with travels in the bundle like any on-call key.
    this.sshKey = path.join(base, "id_ed25519");
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `boot-test@${this.name}`, "-f", this.sshKey]);
    const pub = fs.readFileSync(`${this.sshKey}.pub`, "utf8").trim();
    this.cfg = { ...opts.cfg, access: { ...opts.cfg.access, authorizedKeys: [...opts.cfg.access.authorizedKeys, pub] } };
    this.etag = this.upload(this.cfg);
    if (opts.bucketExists === false) lab.removeBucket(this.userDataCtx.configBucket);
    this.lab.setParameters(Object.fromEntries(secretFiles(this.cfg).map((s) => [s.parameter, fakeSecret(s.parameter)])));
    this.prepareRoot(opts.uidShift ?? 0);
  }

  /**
   * Renders and uploads the bundle of `cfg` (a config change is `host.upload(changedCfg)`); returns its ETag.
   * `edit` changes the rendered bundle before the upload: what a bad release or config does to a service (tests only).
   */
  upload(cfg: StackConfig, edit?: (bundle: { files: { path: string; content: string }[]; versions: { name: string; artifact: string; sha256: string | null }[] }) => void): string {
    const { digests } = this.lab.releases(cfg.architecture);
    let text = withStandInDigests(renderBundle(cfg, this.ctx), digests);
    if (edit) {
      const bundle = JSON.parse(text);
      edit(bundle);
      text = JSON.stringify(bundle);
    }
    this.etag = this.lab.putObject(this.userDataCtx.configBucket, this.userDataCtx.configObjectKey, text);
    return this.etag;
  }

  private mountRoot(): void {
    sh("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${this.lab.lower},upperdir=${this.upper},workdir=${this.work}`, this.root]);
  }

  private unmountRoot(): void {
    sh("umount", [this.root], { allowFail: true });
  }

  /** The Debian-only adjustments listed in the file comment, and the NoCloud seed with the rendered user data. */
  private prepareRoot(uidShift: number): void {
    this.mountRoot();
    try {
      const w = (p: string, content: string, mode = 0o644) => {
        const f = path.join(this.root, p);
        fs.mkdirSync(path.dirname(f), { recursive: true });
        fs.writeFileSync(f, content, { mode });
      };
      const region = this.cfg.region;
      const names = new Set([
        ...this.lab.releases(this.cfg.architecture).hosts,
        `${this.userDataCtx.configBucket}.s3.${region}.amazonaws.com`,
        `${this.userDataCtx.configBucket}.s3.amazonaws.com`,
        `s3.${region}.amazonaws.com`,
        `ssm.${region}.amazonaws.com`,
      ]);
      w("etc/hosts", `127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${[...names].join(" ")}\n`);
      const ca = fs.readFileSync(path.join(this.lab.dir, "ca/ca.crt"), "utf8");
      w("usr/local/share/ca-certificates/boot-test-ca.crt", ca);
      fs.appendFileSync(path.join(this.root, "etc/ssl/certs/ca-certificates.crt"), ca);
      w("etc/apt/sources.list", "# boot test: no network, no sources (jq, the one package user data lists, is preinstalled)\n");
      w(
        "etc/cloud/cloud.cfg.d/99-boot-test.cfg",
        [
          "# boot test (tests/boot/host.ts): Debian standing in for Amazon Linux 2023",
          "datasource_list: [NoCloud]",
          "network: {config: disabled}",
          "locale: C.UTF-8",
          "system_info:",
          "  default_user:",
          `    name: ${AMI_DEFAULT_USER}`,
          "    lock_passwd: true",
          "    sudo: ['ALL=(ALL) NOPASSWD:ALL']",
          "    shell: /bin/bash",
          "",
        ].join("\n"),
      );
      w("var/lib/cloud/seed/nocloud/meta-data", `instance-id: ${this.instanceId}\nlocal-hostname: ${this.name}\n`);
      w("var/lib/cloud/seed/nocloud/user-data", renderUserData(this.cfg, this.userDataCtx));
      fs.mkdirSync(path.join(this.root, DEBIAN_ALERTMANAGER_ASSETS), { recursive: true });
      sh("cp", ["-a", `${DEBIAN_ALERTMANAGER_ASSETS}/.`, path.join(this.root, DEBIAN_ALERTMANAGER_ASSETS)]);
      for (let i = 0; i < uidShift; i++) sh("chroot", [this.root, "useradd", "--system", "--no-create-home", `boot-uid-shift-${i}`]);
    } finally {
      this.unmountRoot();
    }
  }

  /**
   * Boots the container. `volume: "attached"` binds the loop device in at the volume's by-id path (the host formats
   * it if blank and systemd mounts it); `"missing"` boots without it (a volume that is not attached).
   */
  boot(volume: "attached" | "missing" = "attached"): void {
    if (this.nspawn) throw new Error("already booted");
    this.mountRoot();
    const undoRoot = this.cleanups.add(`unmount ${this.root}`, () => this.unmountRoot());
    const args = [
      "-D", this.root, "-b", "--register=no", "--keep-unit", `--machine=${this.name}`,
      `--network-namespace-path=/run/netns/${this.lab.netns}`,
      // systemd's BPF IP firewall (IPAddressDeny=) needs bpf() and pure cgroup v2 in the guest, else it is silently off.
      "--capability=all", "--system-call-filter=bpf", "--console=read-only",
    ];
    // No udev in a container: the by-id link EC2's udev makes is the bind's target instead.
    if (volume === "attached") args.push(`--bind=${this.volume.loop}:${dataVolumeDevice(this.userDataCtx.dataVolumeId)}`);
    const log = fs.openSync(this.consoleLog, "a");
    fs.writeSync(log, `\n===== boot ${++this.bootCount} (${volume}) ${new Date().toISOString()}\n`);
    // nspawn (--keep-unit) puts the container into `payload` and itself into `supervisor` below the cgroup it runs
    // in, and the container's cgroup namespace starts there. Containers booted side by side (the full suite runs the
    // boot specs in parallel processes) would share those: each nspawn first moves to a cgroup of its own,
    // `mh-boot-<pid>-<container>` below this process's, in the unified hierarchy and (hybrid hosts) name=systemd.
    const cgroups = ownCgroupDirs(process.pid).map((d) => path.join(d, `mh-boot-${process.pid}-${this.name}`));
    for (const d of cgroups) fs.mkdirSync(d, { recursive: true });
    // If this process dies without its cleanup (SIGKILL, a killed CI job), nspawn gets SIGTERM and halts the
    // container cleanly (a SIGKILLed nspawn would leave the container running with no parent).
    const join = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1/cgroup.procs" || exit 1; shift; n=$((n - 1)); done; exec "$@"';
    const child = spawn("sh", ["-c", join, "sh", String(cgroups.length), ...cgroups, "setpriv", "--pdeathsig", "SIGTERM", "systemd-nspawn", ...args], {
      stdio: ["ignore", log, log],
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" },
      detached: true,
    });
    this.nspawn = child;
    const pid = child.pid!;
    fs.writeFileSync(path.join(path.dirname(this.root), "nspawn.pid"), `${pid}\n`);
    const undoNspawn = this.cleanups.add(`stop container ${this.name}`, () => {
      // Killing the container's PID 1 kills its whole PID namespace; then nspawn itself.
      for (const p of [this.leaderPid, pid]) {
        try {
          if (p) process.kill(p, "SIGKILL");
        } catch {
          /* gone */
        }
      }
      waitExit(pid, 10_000);
      for (const d of cgroups) removeLeftoverCgroups(d);
      // Stale pid files must never lead .ci/run's safety net to another process.
      for (const f of ["init.pid", "nspawn.pid"]) fs.rmSync(path.join(path.dirname(this.root), f), { force: true });
    });
    this.stopContainer = () => {
      undoNspawn();
      undoRoot();
      this.nspawn = undefined;
      this.leaderPid = 0;
    };
    for (let i = 0; i < 300 && !this.leaderPid; i++) {
      this.leaderPid = findContainerInit(pid);
      if (!this.leaderPid) {
        if (child.exitCode !== null) break;
        sleepMs(100);
      }
    }
    if (!this.leaderPid) throw new Error(`container did not start: ${this.console(40)}`);
    fs.writeFileSync(path.join(path.dirname(this.root), "init.pid"), `${this.leaderPid}\n`);
    // systemd answers once it runs; cloud-init then runs the rendered user data.
    for (let i = 0; i < 300; i++) {
      if (this.exec("systemctl is-system-running", { timeoutMs: 5_000 }).stdout.trim() !== "" && this.exec("test -S /run/systemd/private").status === 0) return;
      sleepMs(200);
    }
    throw new Error(`systemd did not come up in the container: ${this.console(40)}`);
  }

  private stopContainer: () => void = () => undefined;

  /** The last lines of the container's console. */
  console(lines = 60): string {
    return fs.existsSync(this.consoleLog) ? fs.readFileSync(this.consoleLog, "utf8").split("\n").slice(-lines).join("\n") : "";
  }

  /** Runs a shell command inside the guest (as root, or as `user` through runuser), with a bounded wait. */
  exec(cmd: string, opts: { user?: string; timeoutMs?: number; input?: string } = {}): ExecResult {
    if (!this.leaderPid) throw new Error("the guest is not running");
    const inner = opts.user ? ["runuser", "-u", opts.user, "--", "bash", "-c", cmd] : ["bash", "-c", cmd];
    const res = spawnSync("nsenter", ["-t", String(this.leaderPid), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i", `PATH=${GUEST_PATH}`, "LANG=C.UTF-8", "HOME=/root", ...inner], {
      encoding: "utf8",
      timeout: opts.timeoutMs ?? 120_000,
      input: opts.input,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: res.status, stdout: res.stdout ?? "", stderr: (res.stderr ?? "") + (res.error ? String(res.error.message) : "") };
  }

  /** exec() that throws with the output when the command fails. */
  run(cmd: string, opts: { user?: string; timeoutMs?: number } = {}): string {
    const r = this.exec(cmd, opts);
    if (r.status !== 0) throw new Error(`guest: ${cmd} → exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Logs in over the guest's real sshd (on the namespace's loopback) as the stack's ssh user, with the bundle's key. */
  ssh(cmd: string, opts: { timeoutMs?: number; user?: string } = {}): ExecResult {
    const res = spawnSync(
      "ip",
      ["netns", "exec", this.lab.netns, "ssh", "-i", this.sshKey, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", `${opts.user ?? this.cfg.access.sshUser}@127.0.0.1`, cmd],
      { encoding: "utf8", timeout: opts.timeoutMs ?? 60_000 },
    );
    return { status: res.status, stdout: res.stdout ?? "", stderr: res.stderr ?? "" };
  }

  /** Waits for cloud-init, then runs the host's own health check (optionally for an expected bundle ETag). */
  healthCheck(opts: { expectEtag?: string; timeoutSec?: number } = {}): ExecResult {
    const t = opts.timeoutSec ?? 300;
    const etag = opts.expectEtag ? ` --expect-etag '${opts.expectEtag.replace(/"/g, "")}'` : "";
    return this.exec(`/usr/local/lib/monitoring-host/monitoring-health --timeout ${t}${etag}`, { timeoutMs: (t + 60) * 1000 });
  }

  /** Waits until cloud-init wrote the health check (the bootstrap applied a bundle), then runs it. Throws when unhealthy. */
  waitHealthy(opts: { expectEtag?: string; timeoutSec?: number } = {}): string {
    const deadline = Date.now() + (opts.timeoutSec ?? 300) * 1000;
    while (this.exec("test -x /usr/local/lib/monitoring-host/monitoring-health").status !== 0) {
      if (Date.now() > deadline) {
        throw new Error(`the bootstrap did not install the health check in time\n${this.run("tail -n 60 /var/log/cloud-init-output.log || true")}\n${this.exec("journalctl -b --no-pager -n 80").stdout}`);
      }
      sleepMs(1000);
    }
    const res = this.healthCheck({ expectEtag: opts.expectEtag, timeoutSec: Math.max(30, Math.round((deadline - Date.now()) / 1000)) });
    if (res.status !== 0) throw new Error(`monitoring-health failed:\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
  }

  /** A unit property (`systemctl show -p`). */
  prop(unit: string, property: string): string {
    return this.run(`systemctl show -p ${property} --value ${unit}`).trim();
  }

  /** Powers the guest off cleanly (services get SIGTERM, as on a reboot) and waits for the container to exit. */
  poweroff(timeoutMs = 90_000): void {
    if (!this.nspawn) return;
    const pid = this.nspawn.pid!;
    this.exec("systemctl poweroff --no-block", { timeoutMs: 10_000 });
    if (!waitExit(pid, timeoutMs)) process.stderr.write(`boot test: ${this.name} did not power off within ${timeoutMs} ms; killing it\n`);
    this.stopContainer();
  }
}

/** A value per SSM parameter, shaped like what the services read (URLs for receivers). */
function fakeSecret(parameter: string): string {
  if (/receivers\//.test(parameter)) return "http://127.0.0.1:9/boot-test-receiver";
  return `boot-test-value-for-${parameter.split("/").pop()}`;
}

function children(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The container's PID 1 (seen from here): the descendant of nspawn whose innermost pid is 1. */
function findContainerInit(nspawnPid: number): number {
  const queue = children(nspawnPid);
  while (queue.length) {
    const p = queue.shift()!;
    try {
      const nspid = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1].trim().split(/\s+/) ?? [];
      if (nspid.length > 1 && nspid[nspid.length - 1] === "1") return p;
    } catch {
      continue;
    }
    queue.push(...children(p));
  }
  return 0;
}

function waitExit(pid: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
      const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      if (/\) Z /.test(st)) return true;
    } catch {
      return true;
    }
    sleepMs(200);
  }
  return false;
}

/**
 * The cgroup directories a process runs in that nspawn uses: the unified hierarchy's (`0::`, mounted at
 * /sys/fs/cgroup or, on a hybrid host, /sys/fs/cgroup/unified) and the legacy `name=systemd` one of a hybrid host.
 */
function ownCgroupDirs(pid: number): string[] {
  const dirs: string[] = [];
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
      const m = /^(\d+):([^:]*):(.*)$/.exec(line);
      if (!m) continue;
      const bases = m[1] === "0" && m[2] === "" ? ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] : m[2] === "name=systemd" ? ["/sys/fs/cgroup/systemd"] : [];
      const base = bases.find((b) => fs.existsSync(path.join(b, m[3], "cgroup.procs")));
      if (base) dirs.push(path.join(base, m[3]));
    }
  } catch {
    /* process gone */
  }
  return dirs;
}

/**
 * Removes a container's own cgroup (`mh-boot-*`, boot()) with the payload/supervisor cgroups nspawn left below it
 * and the guest's below those. rmdir only ever removes a cgroup with no process left; the guest's processes die
 * with its PID 1 but asynchronously, so it retries for a few seconds.
 */
function removeLeftoverCgroups(dir: string): void {
  if (!path.basename(dir).startsWith("mh-boot-")) throw new Error(`not a boot test cgroup: ${dir}`);
  const deadline = Date.now() + 10_000;
  while (fs.existsSync(dir)) {
    spawnSync("find", [dir, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"], { timeout: 10_000 });
    if (!fs.existsSync(dir)) return;
    if (Date.now() > deadline) {
      process.stderr.write(`boot test: cgroup ${dir} still has processes; left behind\n`);
      return;
    }
    sleepMs(200);
  }
}
