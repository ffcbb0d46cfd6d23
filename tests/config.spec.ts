/**
 * The config loader: committed stacks load, and every bad value is reported with its key, the value and what is
 * allowed — all problems at once, before any resource exists.
 */
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import { ConfigError } from "../config/config-problems";
import { KNOWN_KEYS, loadStackConfig } from "../config/loader";
import { sshPublicKeyProblem, cidrProblem } from "../config/value-checks";
import { FileConfigSource } from "../config/config-source";
import { parseDuration } from "../config/duration";
import { SENTINEL, stackConfig, stackSource } from "./support/stacks";

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
      assert.equal(prd.architecture, "arm64");
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
    it("every problem at once, not one per run", () => {
      const found = problems("dev", { environment: "qa", instanceType: "big", dataVolumeSizeGiB: 1, metricsRetention: "x", vpcId: "vpc-1" });
      const keys = new Set(found.map((p) => p.key));
      for (const k of ["environment", "instanceType", "dataVolumeSizeGiB", "metricsRetention", "vpcId"]) assert.ok(keys.has(K(k)), `missing ${k}`);
    });
  });

  describe("helpers", () => {
    it("parses durations", () => {
      assert.equal(parseDuration("15d")?.seconds, 15 * 86400);
      assert.equal(parseDuration("1w2d")?.seconds, 9 * 86400);
      assert.equal(parseDuration("15"), undefined);
      assert.equal(parseDuration("1.5d"), undefined);
    });
    it("accepts private networks in both families", () => {
      assert.equal(cidrProblem("10.20.0.0/16"), undefined);
      assert.equal(cidrProblem("2001:db8::/48"), undefined);
      assert.match(cidrProblem("10.20.0.1") ?? "", /no prefix length/);
    });
  });
});

describe("stack files with encrypted secrets (offline render of a real stack)", () => {
  const fs = require("fs") as typeof import("fs");
  const os = require("os") as typeof import("os");
  const path = require("path") as typeof import("path");

  it("reads whole-value and --path secrets as present but unreadable, and as secret", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stackfile-"));
    try {
      fs.copyFileSync(path.join(__dirname, "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
      const stackFile = fs.readFileSync(path.join(__dirname, "..", "Pulumi.prd.yaml"), "utf8");
      fs.writeFileSync(
        path.join(dir, "Pulumi.prd.yaml"),
        stackFile +
          "  monitoring-hosts:grafanaAdminPassword:\n    secure: v1:AAAABBBBCCCC\n" +
          "  monitoring-hosts:alertReceiverSecrets:\n" +
          "    oncall-pagerduty:\n      secure: v1:DDDD\n    team-slack:\n      secure: v1:EEEE\n    team-email:\n      secure: v1:FFFF\n",
      );
      const source = new FileConfigSource("prd", dir);
      assert.equal(source.isSecret("monitoring-hosts:alertReceiverSecrets"), true);
      // Loads even when secrets are required: they are present, only not decryptable here.
      const cfg = loadStackConfig(source, { requireSecrets: true });
      assert.equal(cfg.grafanaAdminPassword.readable, false);
      assert.deepEqual(
        cfg.alerting.receivers.map((r) => [r.name, r.secret?.readable]),
        [["oncall-pagerduty", false], ["team-slack", false], ["team-email", false]],
      );
      assert.ok(!JSON.stringify(source.engineConfig()).includes("v1:"), "encrypted values are never passed on as values");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Pulumi.yaml config schema", () => {
  const YAML = require("yaml") as typeof import("yaml");
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
  /** Keys the CLI must refuse to run without (no default): the user supplies them. */
  const REQUIRED = ["environment", "vpcId", "subnetId", "grafanaAdminPassword"];

  it("declares every scalar key with a type and a description; only truly required keys lack a default", () => {
    for (const [key, decl] of Object.entries<any>(project.config)) {
      assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key}: type`);
      assert.ok(decl.description, `${key}: description`);
      if (decl.type === "array") assert.ok(decl.items?.type, `${key}: items`);
      assert.equal("default" in decl, !REQUIRED.includes(key), `${key}: the CLI requires keys without a default`);
    }
  });

  it("declares every key the loader reads except the structured ones (which the schema cannot type)", () => {
    const known: readonly string[] = KNOWN_KEYS;
    const structured = ["alertReceivers", "alertReceiverSecrets", "slos", "logAlerts", "appScrapeTargets", "tags", "remoteWrite"];
    assert.deepEqual(known.filter((k) => !structured.includes(k)).sort(), Object.keys(project.config).sort());
  });
});
