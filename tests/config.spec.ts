/**
 * The config loader: committed stacks load, and every bad value is reported with its key, the value and what is
 * allowed — all problems at once, before any resource exists.
 */
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { isGravitonFamily, sshPublicKeyProblem } from "../config/value-checks";
import { NITRO_EXCEPTIONS, XEN_FAMILIES } from "../config/nitro";
import { ec2 as ec2Enums } from "@pulumi/aws/types/enums";
import { FileConfigSource } from "../config/config-source";
import { COMPONENTS, RELEASE_ARCH, releaseDigestKey, unpinnedReleases } from "../config/release-manifest";
import { resolveComponents } from "../hostfiles/versions";
import { arm64Overrides, SENTINEL, standInReleaseDigests, stackConfig, stackSource } from "./support/stacks";

const K = (key: string) => `monitoring-hosts:${key}`;

/** A real OpenSSH ed25519 public key line. */
function ed25519PublicKey(comment = "oncall@example"): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")} ${comment}`;
}

/** Loads `stack` with overrides and returns the ConfigError's problems (fails if it loads). */
function problems(stack: string, overrides: Record<string, unknown>): { key: string; message: string }[] {
  try {
    loadStackConfig(stackSource(stack, overrides));
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems;
  }
  assert.fail("config loaded, but a problem was expected");
}

/** Like problems(), with secret overrides; an empty list when the config loads. */
function loadOrProblems(stack: string, overrides: Record<string, unknown>, secrets: Record<string, unknown>): { key: string; message: string }[] {
  try {
    loadStackConfig(stackSource(stack, overrides, secrets));
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems;
  }
}

function expectProblem(stack: string, overrides: Record<string, unknown>, key: string, pattern: RegExp): void {
  const found = problems(stack, overrides);
  const hit = found.find((p) => p.key === key);
  assert.ok(hit, `no problem for ${key}; got: ${JSON.stringify(found)}`);
  assert.match(hit.message, pattern);
}

describe("stack config", () => {
  describe("committed stacks", () => {
    it("dev loads with its secrets set and differs from prd the way environments do", () => {
      const dev = stackConfig("dev");
      const prd = stackConfig("prd");
      assert.equal(dev.environment, "dev");
      assert.equal(prd.environment, "prd");
      assert.equal(dev.protectData, false);
      assert.equal(prd.protectData, true);
      assert.notEqual(dev.instanceType, prd.instanceType);
      assert.ok(prd.dataVolume.sizeGiB > dev.dataVolume.sizeGiB);
      assert.ok(prd.retention.metrics.seconds > dev.retention.metrics.seconds);
      assert.ok(prd.retention.logs.seconds > dev.retention.logs.seconds);
      assert.ok(prd.retention.traces.seconds > dev.retention.traces.seconds);
      assert.notDeepEqual(
        dev.alerting.receivers.map((r) => r.name),
        prd.alerting.receivers.map((r) => r.name),
      );
      // Both committed stacks run on an architecture whose archives are all pinned in config/release-manifest.ts: they
      // need no releaseDigests and load as committed (prd was arm64 until four arm64 digests proved unobtainable).
      for (const c of [dev, prd]) assert.deepEqual(unpinnedReleases(c.architecture), [], `${c.stack} (${c.architecture})`);
      assert.deepEqual([dev.releaseDigests, prd.releaseDigests], [{}, {}]);
      assert.equal(dev.access.mode, "ssm");
    });

    it("loads offline without secrets when they are not required (render)", () => {
      const cfg = loadStackConfig(new FileConfigSource("prd"), { requireSecrets: false });
      assert.equal(cfg.stack, "prd");
      assert.equal(cfg.grafanaAdminPassword.readable, false);
    });

    it("applies Pulumi.yaml defaults for keys a stack does not set", () => {
      assert.equal(stackConfig("dev").rootVolumeSizeGiB, 20);
      assert.equal(stackConfig("dev").access.sshUser, "ec2-user");
    });

    it("keeps secret values out of JSON and string forms of the config", () => {
      const cfg = stackConfig("prd");
      assert.ok(!JSON.stringify(cfg).includes(SENTINEL));
      assert.ok(!String(cfg.grafanaAdminPassword).includes(SENTINEL));
      assert.ok(cfg.grafanaAdminPassword.reveal().includes(SENTINEL));
    });
  });

  describe("rejects, naming the key", () => {
    it("a malformed CIDR", () =>
      expectProblem("dev", { otlpAllowedCidrs: ["10.0.0.0/33"] }, `${K("otlpAllowedCidrs")}[0]`, /"10\.0\.0\.0\/33" is not a valid IPv4 CIDR/));
    it("a CIDR with host bits set, suggesting the network", () =>
      expectProblem("dev", { otlpAllowedCidrs: ["10.0.0.7/16"] }, `${K("otlpAllowedCidrs")}[0]`, /host bits set; the network is 10\.0\.0\.0\/16/));
    it("a world-open CIDR, IPv4 and IPv6", () => {
      expectProblem("dev", { otlpAllowedCidrs: ["0.0.0.0/0"] }, `${K("otlpAllowedCidrs")}[0]`, /whole internet/);
      expectProblem("dev", { otlpAllowedCidrs: ["::/0"] }, `${K("otlpAllowedCidrs")}[0]`, /whole internet/);
      expectProblem("dev", { accessMode: "ssh", sshAdminCidrs: ["0.0.0.0/1"] }, `${K("sshAdminCidrs")}[0]`, /broader than \/8/);
    });
    it("an empty allow-list where one is needed", () => {
      expectProblem("dev", { otlpAllowedCidrs: [] }, K("otlpAllowedCidrs"), /is empty and so is otlpAllowedSecurityGroupIds/);
      expectProblem("dev", { accessMode: "ssh", sshAdminCidrs: [] }, K("sshAdminCidrs"), /is empty, but accessMode is "ssh"/);
    });
    it("an unknown environment", () =>
      expectProblem("dev", { environment: "prod" }, K("environment"), /"prod" is not allowed; allowed: dev, stg, prd/));
    it("an instance type not of the form family.size", () => {
      expectProblem("dev", { instanceType: "large" }, K("instanceType"), /"large" is not an EC2 instance type of the form family\.size/);
      expectProblem("dev", { instanceType: "t3.micro" }, K("instanceType"), /too little memory/);
    });
    it("an architecture that does not match the instance type", () =>
      expectProblem("dev", { instanceType: "m7g.large", architecture: "x86_64" }, K("architecture"), /m7g\.large is arm64/));
    it("a volume below the safe minimum", () => {
      expectProblem("dev", { dataVolumeSizeGiB: 8 }, K("dataVolumeSizeGiB"), /8 is out of range; allowed: 20 to 65536/);
      expectProblem("dev", { rootVolumeSizeGiB: "eight" }, K("rootVolumeSizeGiB"), /"eight" must be a whole number/);
    });
    it("a retention that is zero, negative or unparsable", () => {
      expectProblem("dev", { metricsRetention: "0d" }, K("metricsRetention"), /"0d" is not allowed; it must be from 2h/);
      expectProblem("dev", { tracesRetention: "-3d" }, K("tracesRetention"), /"-3d" is not a duration/);
      expectProblem("dev", { logsRetention: "two weeks" }, K("logsRetention"), /"two weeks" is not a duration/);
      expectProblem("dev", { logsRetention: "36h" }, K("logsRetention"), /whole days/);
    });
    it("duplicate names", () => {
      const receivers = [
        { name: "team-slack", type: "slack", channel: "#a", severities: ["page"] },
        { name: "team-slack", type: "slack", channel: "#b", severities: ["ticket"] },
      ];
      expectProblem("dev", { alertReceivers: receivers }, `${K("alertReceivers")}[].name`, /"team-slack" more than once/);
      expectProblem("dev", { otlpAllowedCidrs: ["10.0.0.0/16", "10.0.0.0/16"] }, K("otlpAllowedCidrs"), /more than once/);
    });
    it("a malformed SSH public key", () => {
      const good = ed25519PublicKey();
      assert.equal(sshPublicKeyProblem(good), undefined);
      expectProblem("dev", { sshAuthorizedKeys: [good, "ssh-ed25519 not-base64!"] }, `${K("sshAuthorizedKeys")}[1]`, /not base64/);
      expectProblem("dev", { sshAuthorizedKeys: ["ssh-dss AAAAB3NzaC1kc3M= x"] }, `${K("sshAuthorizedKeys")}[0]`, /key type "ssh-dss"/);
      const [type, body] = good.split(" ");
      const mislabelled = `ssh-rsa ${body}`;
      expectProblem("dev", { sshAuthorizedKeys: [mislabelled] }, `${K("sshAuthorizedKeys")}[0]`, /encodes "ssh-ed25519"/);
      assert.equal(type, "ssh-ed25519");
    });
    it("a missing required secret, with the command that sets it", () => {
      const src = new FileConfigSource("dev");
      try {
        loadStackConfig(src);
        assert.fail("loaded without secrets");
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        const keys = e.problems.map((p) => p.key);
        assert.ok(keys.includes(K("grafanaAdminPassword")));
        assert.ok(keys.includes(`${K("alertReceiverSecrets")}.team-slack`));
        assert.match(e.message, /pulumi config set --secret grafanaAdminPassword/);
      }
    });
    it("a secret stored in plain text, without echoing it", () => {
      const src = new FileConfigSource("dev", undefined, { grafanaAdminPassword: `${SENTINEL}-plain-text` }, {
        alertReceiverSecrets: { "team-slack": "https://hooks.slack.com/services/x" },
      });
      try {
        loadStackConfig(src);
        assert.fail("loaded a plain-text secret");
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /grafanaAdminPassword: is stored in plain text/);
        assert.ok(!e.message.includes(SENTINEL), "the error message must not echo the secret");
      }
    });
    it("a receiver secret of the wrong shape, without echoing it", () => {
      const src = new FileConfigSource("dev", undefined, {}, {
        grafanaAdminPassword: `${SENTINEL}-grafana`,
        alertReceiverSecrets: { "team-slack": `http://${SENTINEL}` },
      });
      assert.throws(() => loadStackConfig(src), (e: ConfigError) => {
        assert.match(e.message, /alertReceiverSecrets\.team-slack: must be a Slack incoming-webhook URL/);
        assert.ok(!e.message.includes(SENTINEL));
        return true;
      });
    });
    it("operations settings: snapshot retention, alarm addresses, the pager URL", () => {
      expectProblem("prd", { snapshotRetentionDays: 3 }, K("snapshotRetentionDays"), /3 is too short for prd; allowed: 7 to 365/);
      expectProblem("dev", { snapshotRetentionDays: 0 }, K("snapshotRetentionDays"), /0 is out of range; allowed: 1 to 365/);
      expectProblem("dev", { hostAlarmEmails: ["oncall"] }, `${K("hostAlarmEmails")}[0]`, /"oncall" must be an email address/);
      expectProblem("prd", { hostAlarmEmails: [] }, K("hostAlarmEmails"), /nobody would hear that the monitoring host itself died/);
      expectProblem("dev", { hostAlarmPagerUrl: "https://events.example.com/x" }, K("hostAlarmPagerUrl"), /stored in plain text/);
      const notHttps = loadOrProblems("dev", {}, { hostAlarmPagerUrl: "http://events.example.com/x" });
      assert.ok(notHttps.some((p) => p.key === K("hostAlarmPagerUrl") && /must be an https:\/\/ URL \(value not shown\)/.test(p.message)));
      // A pager URL alone is enough for prd, and it is optional elsewhere.
      const prd = stackConfig("prd", { hostAlarmEmails: [] }, { hostAlarmPagerUrl: "https://events.example.com/x" });
      assert.equal(prd.operations.hostAlarmPagerUrl?.readable, true);
      assert.equal(stackConfig("dev").operations.hostAlarmPagerUrl, undefined);
    });

    it("unknown keys, suggesting the right spelling", () =>
      expectProblem("dev", { instancetype: "t3.large" }, K("instancetype"), /did you mean monitoring-hosts:instanceType/));
    it("prd without data protection", () =>
      expectProblem("prd", { protectData: false }, K("protectData"), /prd environment always protects its data/));
    it("receivers that leave a severity unrouted", () =>
      expectProblem("dev", { alertReceivers: [{ name: "team-slack", type: "slack", channel: "#x", severities: ["ticket"] }] }, K("alertReceivers"), /no receiver takes severity "page"/));
    it("bad receiver fields", () => {
      const receivers = [{ name: "Bad Name", type: "sms", severities: ["page", "urgent"] }];
      const found = problems("dev", { alertReceivers: receivers });
      const keys = found.map((p) => p.key);
      assert.ok(keys.includes(`${K("alertReceivers")}[0].name`));
      assert.ok(keys.includes(`${K("alertReceivers")}[0].type`));
      assert.ok(keys.includes(`${K("alertReceivers")}[0].severities[1]`));
    });
    it("malformed appScrapeTargets entries, every one", () => {
      const bad = [
        { service: "Appointments API", targets: ["10.0.1.5:8080"] },
        { service: "x", targets: [] },
        { service: "y", targets: ["http://10.0.1.5:8080/metrics"] },
        { service: "z", targets: ["10.0.1.5:8080"], metricsPath: "metrics", scheme: "ftp", port: 1 },
        { service: "x", targets: ["10.0.1.7:8080"] },
      ];
      assert.throws(
        () => stackConfig("dev", { appScrapeTargets: bad }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          const keys = e.problems.map((p) => p.key);
          for (const k of [
            "monitoring-hosts:appScrapeTargets[0].service",
            "monitoring-hosts:appScrapeTargets[1].targets",
            "monitoring-hosts:appScrapeTargets[2].targets[0]",
            "monitoring-hosts:appScrapeTargets[3].metricsPath",
            "monitoring-hosts:appScrapeTargets[3].scheme",
            "monitoring-hosts:appScrapeTargets[3].port",
            "monitoring-hosts:appScrapeTargets[].service",
          ]) {
            assert.ok(keys.includes(k), `no problem reported for ${k}: ${keys.join(", ")}`);
          }
          return true;
        },
      );
      assert.throws(() => stackConfig("dev", { appScrapeTargets: { service: "x" } }), /appScrapeTargets: must be a list/);
    });

    it("every problem at once, not one per run", () => {
      const found = problems("dev", { environment: "qa", instanceType: "big", dataVolumeSizeGiB: 1, metricsRetention: "x", vpcId: "vpc-1" });
      const keys = new Set(found.map((p) => p.key));
      for (const k of ["environment", "instanceType", "dataVolumeSizeGiB", "metricsRetention", "vpcId"]) assert.ok(keys.has(K(k)), `missing ${k}`);
    });
  });

  describe("instanceType: only Nitro types (the data volume is mounted by its NVMe by-id link)", () => {
    const known = Object.values(ec2Enums.InstanceType) as string[];
    const familyOf = (t: string) => t.split(".")[0];
    /** Overrides for `instanceType`, moved to arm64 with stand-in digests when it is a Graviton type. */
    const withType = (t: string) => (isGravitonFamily(familyOf(t)) ? arm64Overrides(t) : { instanceType: t });
    /** The loader's problems about instanceType for `t` (none when the config loads). */
    const typeProblems = (t: string) => loadOrProblems("dev", withType(t), {}).filter((p) => p.key === K("instanceType"));
    // AWS, Amazon EC2 User Guide, "Instance types" > "Hypervisor type"
    // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-types.html#instance-hypervisor-type), both lists
    // as the page names them (lower-cased); config/nitro.ts quotes the Xen list and names the copy it was read from.
    const AWS_XEN = "m1 m2 m3 m4 t1 t2 c1 c3 c4 r3 r4 x1 x1e d2 h1 i2 i3 f1 g3 p2 p3".split(" ");
    const AWS_NITRO = (
      "m5 m5a m5ad m5d m5dn m5n m5zn m6a m6g m6gd m6i m6id m6idn m6in m7a m7g m7gd m7i m7i-flex m8g t3 t3a t4g " +
      "c5 c5a c5ad c5d c5n c6a c6g c6gd c6gn c6i c6id c6in c7a c7g c7gd c7gn c7i c7i-flex c8g " +
      "r5 r5a r5ad r5b r5d r5dn r5n r6a r6g r6gd r6i r6idn r6in r6id r7a r7g r7gd r7i r7iz r8g u-3tb1 u-6tb1 u-9tb1 " +
      "u-12tb1 u-18tb1 u-24tb1 u7i-6tb u7i-8tb u7i-12tb u7in-16tb u7in-24tb u7in-32tb u7inh-32tb x2gd x2idn x2iedn " +
      "x2iezn x8g z1d d3 d3en i3en i4g i4i i7ie i8g im4gn is4gen dl1 dl2q f2 g4ad g4dn g5 g5g g6 g6e gr6 inf1 inf2 " +
      "p3dn p4d p4de p5 p5e p5en trn1 trn1n trn2 trn2u vt1 hpc6a hpc6id hpc7a hpc7g a1"
    ).split(" ");

    it("refuses a Xen type, naming what is wrong and a Nitro type to pick", () => {
      const [hit] = typeProblems("t2.large");
      assert.ok(hit, "t2.large was accepted");
      assert.match(hit.message, /"t2\.large" is a Xen-based type: the data volume is found by its NVMe by-id link .*only Nitro instances have; pick a Nitro type like t3\.large$/);
      assert.match(typeProblems("m4.xlarge")[0]?.message ?? "", /pick a Nitro type like m7i\.xlarge$/);
      assert.match(typeProblems("i3.large")[0]?.message ?? "", /Xen-based.*like i4i\.large$/);
    });

    it("accepts the Nitro exceptions of Xen families (i3.metal) and p3dn, a family of its own", () => {
      for (const t of [...NITRO_EXCEPTIONS, "p3dn.24xlarge"]) assert.deepEqual(typeProblems(t), [], t);
    });

    it("accepts current Nitro types, x86 and Graviton", () => {
      for (const t of ["t3.large", "t3a.large", "m5.large", "m7i.xlarge", "m7g.xlarge", "c7g.xlarge", "t4g.large", "r7i.large", "i3en.large"]) {
        assert.deepEqual(typeProblems(t), [], t);
      }
    });

    it("the Xen list is AWS's, holds no family AWS names as Nitro, and every family in it exists", () => {
      for (const f of AWS_XEN) assert.ok(f in XEN_FAMILIES, `AWS lists ${f} as Xen-based, config/nitro.ts does not`);
      for (const f of AWS_NITRO) assert.ok(!(f in XEN_FAMILIES), `AWS lists ${f} as Nitro-based, config/nitro.ts as Xen`);
      const families = new Set(known.map(familyOf));
      for (const f of Object.keys(XEN_FAMILIES)) assert.ok(families.has(f), `${f} is not a family of the provider's enum`);
      for (const t of NITRO_EXCEPTIONS) assert.ok(known.includes(t) && familyOf(t) in XEN_FAMILIES, `${t} is no exception of a Xen family`);
    });

    it("every type the provider knows is classified: Xen types refused, with a suggestion that itself loads", () => {
      const suggested = new Set<string>();
      for (const t of known) {
        if (familyOf(t).startsWith("mac")) continue; // refused as Mac instances before the hypervisor matters
        const xen = familyOf(t) in XEN_FAMILIES && !NITRO_EXCEPTIONS.has(t);
        const hit = typeProblems(t).find((p) => /Xen-based/.test(p.message));
        if (!xen) {
          assert.equal(hit, undefined, `${t} refused as Xen-based`);
          continue;
        }
        assert.ok(hit, `${t} (a Xen family) was not refused as Xen-based`);
        const like = /pick a Nitro type like (\S+)$/.exec(hit.message)?.[1];
        assert.ok(like, `${t}: no suggestion in ${hit.message}`);
        suggested.add(like);
      }
      for (const t of suggested) assert.deepEqual(typeProblems(t), [], `the suggested ${t} is refused`);
    });
  });

  describe("releaseDigests: digests the operator supplies for archives config/release-manifest.ts cannot pin", () => {
    const RD = K("releaseDigests");
    const at = (entry: string) => `${RD}["${entry}"]`;
    /** An archive without a pinned digest on arm64, and one with a pinned digest (x86_64 has them all). */
    const unpinned = () => unpinnedReleases("arm64");
    const pinnedName = (Object.keys(COMPONENTS) as (keyof typeof COMPONENTS)[]).find((n) => COMPONENTS[n].digests.amd64.sha256 !== null)!;

    it("an arm64 stack without them is refused at load, naming the key, every missing archive and how to set it", function () {
      if (unpinned().length === 0) this.skip(); // every arm64 archive pinned: nothing for the operator to supply
      const found = problems("dev", { instanceType: "t4g.large", architecture: "arm64" });
      assert.deepEqual(found.map((x) => x.key), [RD], JSON.stringify(found));
      for (const u of unpinned()) {
        assert.ok(found[0].message.includes(u.key), `names ${u.key}`);
        assert.ok(found[0].message.includes(u.artifact), `names ${u.artifact}`);
      }
      assert.match(found[0].message, /pulumi config set --path 'releaseDigests\["[^"]+"\]' <sha256>/);
      assert.match(found[0].message, /x86_64/, "says which architecture needs none");
      // One missing is still refused, and named alone.
      const [first, ...rest] = unpinned();
      const partial = Object.fromEntries(Object.entries(standInReleaseDigests("arm64")).filter(([key]) => key !== first.key));
      const one = problems("dev", { instanceType: "t4g.large", architecture: "arm64", releaseDigests: partial });
      assert.deepEqual(one.map((x) => x.key), [RD]);
      assert.ok(one[0].message.includes(first.key) && rest.every((u) => !one[0].message.includes(u.key)), one[0].message);
    });

    it("with them the stack loads, and the host is given exactly those digests for exactly those archives", function () {
      if (unpinned().length === 0) this.skip();
      const digests = standInReleaseDigests("arm64");
      // Upper case is accepted (some pages print it) and stored as sha256sum prints it.
      const [firstKey] = Object.keys(digests);
      const cfg = stackConfig("dev", { ...arm64Overrides("t4g.large"), releaseDigests: { ...digests, [firstKey]: digests[firstKey].toUpperCase() } });
      assert.deepEqual(cfg.releaseDigests, digests);
      for (const c of resolveComponents("arm64", cfg.releaseDigests)) {
        const manifest = COMPONENTS[c.name].digests[RELEASE_ARCH.arm64].sha256;
        if (manifest !== null) assert.deepEqual([c.sha256, c.pinnedBy], [manifest, "config/release-manifest.ts"], c.name);
        else assert.deepEqual([c.sha256, c.pinnedBy], [digests[releaseDigestKey(c.name, "arm64")], "releaseDigests"], c.name);
      }
    });

    it("an entry equal to the manifest's digest is accepted; one that contradicts it is refused, naming both (the manifest wins)", () => {
      const key = releaseDigestKey(pinnedName, "x86_64");
      const pinned = COMPONENTS[pinnedName].digests.amd64.sha256!;
      assert.deepEqual(stackConfig("dev", { releaseDigests: { [key]: pinned } }).releaseDigests, { [key]: pinned });
      const other = "0".repeat(63) + "1";
      expectProblem("dev", { releaseDigests: { [key]: other } }, at(key), new RegExp(`${other} contradicts the digest config/release-manifest\\.ts pins for .*\\(${pinned}, .*remove this entry`));
    });

    it("refuses a value that is not 64 hex digits", () => {
      const key = releaseDigestKey(pinnedName, "arm64");
      for (const bad of ["abc", "g".repeat(64), "0".repeat(65), 42, "sha256:" + "0".repeat(64)]) {
        expectProblem("dev", { releaseDigests: { [key]: bad } }, at(key), /is not a SHA-256 digest; allowed: 64 hexadecimal digits/);
      }
    });

    it("refuses a digest already used for another archive (copied from the wrong line)", function () {
      if (unpinned().length === 0) this.skip();
      // The x86_64 archive's digest given for the arm64 one.
      const [u, second] = unpinned();
      const amd64 = COMPONENTS[u.name].digests.amd64.sha256;
      if (amd64 !== null) {
        const found = problems("dev", { ...arm64Overrides("t4g.large"), releaseDigests: { ...standInReleaseDigests("arm64"), [u.key]: amd64 } });
        assert.match(found.find((x) => x.key === at(u.key))?.message ?? JSON.stringify(found), new RegExp(`is also the digest of ${releaseDigestKey(u.name, "x86_64").replace(/\./g, "\\.")}`));
      }
      // The same digest for two archives.
      if (second !== undefined) {
        const d = "ab".repeat(32);
        const found = problems("dev", { ...arm64Overrides("t4g.large"), releaseDigests: { ...standInReleaseDigests("arm64"), [u.key]: d, [second.key]: d } });
        assert.match(found.find((x) => x.key === at(second.key))?.message ?? JSON.stringify(found), new RegExp(`is also the digest of ${u.key.replace(/\./g, "\\.")}`));
      }
    });

    it("refuses another version, an unknown component, an archive's architecture name and a non-object, with a suggestion", () => {
      const v = COMPONENTS.loki.version;
      expectProblem("dev", { releaseDigests: { "loki@0.0.1/arm64": "ab".repeat(32) } }, at("loki@0.0.1/arm64"), new RegExp(`names loki 0\\.0\\.1, but this program installs loki ${v.replace(/\./g, "\\.")}.*set "loki@${v.replace(/\./g, "\\.")}/arm64"`));
      expectProblem("dev", { releaseDigests: { [`lokki@${v}/arm64`]: "ab".repeat(32) } }, at(`lokki@${v}/arm64`), new RegExp(`unknown entry.*did you mean "loki@${v.replace(/\./g, "\\.")}/arm64"`));
      expectProblem("dev", { releaseDigests: { [`loki@${v}/amd64`]: "ab".repeat(32) } }, at(`loki@${v}/amd64`), new RegExp(`names architecture "amd64".*"loki@${v.replace(/\./g, "\\.")}/x86_64"`));
      expectProblem("dev", { releaseDigests: { "loki/arm64": "ab".repeat(32) } }, at("loki/arm64"), /unknown entry; allowed: "<component>@<version>\/<architecture>"/);
      expectProblem("dev", { releaseDigests: ["ab".repeat(32)] }, RD, /is not allowed; allowed: an object of "<component>@<version>\/<architecture>" to SHA-256/);
    });

    it("an x86_64 stack may carry an arm64 digest (for a later move, or the application agent) without needing it", function () {
      if (unpinned().length === 0) this.skip();
      const [u] = unpinned();
      const digest = standInReleaseDigests("arm64")[u.key];
      const cfg = stackConfig("dev", { releaseDigests: { [u.key]: digest } });
      assert.equal(cfg.architecture, "x86_64");
      assert.ok(resolveComponents("x86_64", cfg.releaseDigests).every((c) => c.pinnedBy === "config/release-manifest.ts"));
    });
  });
});
