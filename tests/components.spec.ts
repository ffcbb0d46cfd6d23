/**
 * The AWS resources of both committed stacks, as registered under mocks: what would be sent to AWS.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { byType, FAKE_ACCOUNT, isSecretValue, plain, RecordedResource, resources, settle, valueOf } from "./support/mocks";
import { OTLP_CLIENT_CA_PATH } from "../hostfiles/services/otelcol";
import { MonitoringStack } from "../components/monitoring-stack";
import { dataProtection } from "../components/data-protection";
import { ingressRules } from "../config/network-rules";
import { lifecycleExpiryDays } from "../components/telemetry-buckets";
import { ceilDays } from "../config/duration";
import { DATA_DEVICE_NAME } from "../layout/host-layout";
import { arm64Overrides, secretValues, stackConfig } from "./support/stacks";
import { build, Built } from "./support/stack-build";

const USER_DATA_LIMIT = 16 * 1024;

/** AWS resource types that take no tags. */
const UNTAGGABLE = new Set([
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  "aws:s3/bucketVersioning:BucketVersioning",
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  "aws:s3/bucketPolicy:BucketPolicy",
  "aws:iam/rolePolicy:RolePolicy",
  "aws:ec2/volumeAttachment:VolumeAttachment",
  "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  "aws:sns/topicSubscription:TopicSubscription",
  "aws:sns/topicPolicy:TopicPolicy",
  "aws:kms/alias:Alias",
]);

for (const stackName of ["dev", "prd"]) {
  describe(`${stackName} stack resources`, () => {
    const cfg = stackConfig(stackName);
    let b: Built;
    before(async () => {
      b = await build(stackName);
    });

    it("requires IMDSv2 with hop limit 1 and encrypts the root volume", () => {
      const instance = b.one("aws:ec2/instance:Instance");
      assert.deepEqual(
        { tokens: instance.inputs.metadataOptions.httpTokens, hops: instance.inputs.metadataOptions.httpPutResponseHopLimit },
        { tokens: "required", hops: 1 },
      );
      assert.equal(instance.inputs.rootBlockDevice.encrypted, true);
      assert.equal(instance.inputs.instanceType, cfg.instanceType);
      assert.equal(instance.inputs.ebsBlockDevices, undefined, "no inline data disks: they die with the instance");
    });

    it("looks the AMI up for the stack's architecture", () => {
      const instance = b.one("aws:ec2/instance:Instance");
      assert.equal(instance.inputs.ami, cfg.architecture === "arm64" ? "ami-0arm64000000000" : "ami-0x8664000000000");
    });

    it("keeps state on a separate encrypted gp3 data volume, attached, not inline", () => {
      const volume = b.one("aws:ebs/volume:Volume");
      assert.equal(volume.inputs.encrypted, true);
      assert.equal(volume.inputs.type, "gp3");
      assert.equal(volume.inputs.size, cfg.dataVolume.sizeGiB);
      assert.equal(volume.inputs.availabilityZone, "eu-west-1a");
      const attachment = b.one("aws:ec2/volumeAttachment:VolumeAttachment");
      assert.equal(attachment.inputs.volumeId, "vol-0123456789abcdef0");
      assert.equal(attachment.inputs.deviceName, DATA_DEVICE_NAME);
    });

    it(stackName === "prd" ? "protects the data volume and buckets from deletion" : "leaves dev data unprotected", () => {
      const expected = stackName === "prd";
      const parts = b.stack.parts;
      const protectedFlag = (r: pulumi.Resource) => Boolean((r as unknown as { __protect?: boolean }).__protect);
      assert.equal(protectedFlag(parts.dataVolume.volume), expected);
      assert.equal(protectedFlag(parts.buckets.loki.bucket), expected);
      assert.equal(protectedFlag(parts.buckets.tempo.bucket), expected);
      assert.deepEqual(dataProtection(cfg), expected ? { protect: true, retainOnDelete: true } : {});
      for (const bucket of b.of("aws:s3/bucket:Bucket").filter((r) => /-(loki|tempo)$/.test(r.name))) {
        assert.equal(bucket.inputs.forceDestroy, !expected, `${bucket.name} forceDestroy`);
      }
      assert.equal(protectedFlag(parts.host.instance), false, "the instance itself is replaceable");
    });

    it("opens no port to the world; OTLP only from configured sources; no ssh in SSM mode", () => {
      const rules = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
      assert.ok(rules.length > 0);
      for (const r of rules) {
        assert.notEqual(r.inputs.cidrIpv4, "0.0.0.0/0");
        assert.notEqual(r.inputs.cidrIpv6, "::/0");
        assert.ok([4317, 4318].includes(r.inputs.fromPort), `unexpected port ${r.inputs.fromPort}`);
        assert.equal(r.inputs.fromPort, r.inputs.toPort);
        assert.ok(cfg.otlp.allowedCidrs.includes(r.inputs.cidrIpv4) || cfg.otlp.allowedSecurityGroupIds.includes(r.inputs.referencedSecurityGroupId));
      }
      assert.equal(rules.length, 2 * (cfg.otlp.allowedCidrs.length + cfg.otlp.allowedSecurityGroupIds.length));
    });

    for (const kind of ["loki", "tempo"]) {
      it(`${kind} bucket: public access blocked, encrypted, TLS only, versioned, expiring after retention`, () => {
        const name = `${b.prefix}-telemetry-${kind}`;
        const pab = b.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", `telemetry-${kind}`);
        for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
          assert.equal(pab.inputs[flag], true, flag);
        }
        const sse = b.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", `telemetry-${kind}`);
        assert.equal(sse.inputs.rules[0].applyServerSideEncryptionByDefault.sseAlgorithm, "aws:kms");
        const versioning = b.one("aws:s3/bucketVersioning:BucketVersioning", `telemetry-${kind}`);
        assert.equal(versioning.inputs.versioningConfiguration.status, "Enabled");
        const policy = JSON.parse(b.one("aws:s3/bucketPolicy:BucketPolicy", `telemetry-${kind}`).inputs.policy);
        const deny = policy.Statement.find((s: any) => s.Effect === "Deny");
        assert.deepEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
        assert.deepEqual(deny.Resource, [`arn:aws:s3:::${name}-abc123`, `arn:aws:s3:::${name}-abc123/*`]);
        const lifecycle = b.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", `telemetry-${kind}`);
        const rules = lifecycle.inputs.rules as any[];
        const retention = kind === "loki" ? cfg.retention.logs : cfg.retention.traces;
        const expiry = rules.find((r) => r.id === "expire-after-retention");
        assert.equal(expiry.expiration.days, lifecycleExpiryDays(ceilDays(retention)));
        assert.ok(expiry.expiration.days > ceilDays(retention), "S3 must not expire data before the service's own retention");
        assert.equal(rules.find((r) => r.id === "abort-incomplete-multipart-uploads").abortIncompleteMultipartUpload.daysAfterInitiation, 1);
      });
    }

    it("scopes the instance role to the two telemetry buckets, the bundle object and the stack's own parameters", () => {
      const doc = JSON.parse(b.one("aws:iam/rolePolicy:RolePolicy").inputs.policy);
      const buckets = [`${b.prefix}-telemetry-loki`, `${b.prefix}-telemetry-tempo`].map((n) => `arn:aws:s3:::${n}-abc123`);
      for (const s of doc.Statement) {
        const actions: string[] = [].concat(s.Action);
        const res: string[] = [].concat(s.Resource);
        assert.ok(!actions.includes("*") && !actions.some((a) => a.endsWith(":*")), `wildcard action in ${s.Sid}`);
        if (actions.some((a) => a.startsWith("s3:"))) {
          for (const r of res) {
            const ok = buckets.some((arn) => r === arn || r === `${arn}/*`) || r === `arn:aws:s3:::${b.prefix}-config-abc123/hosts/${stackName}/bundle.json`;
            assert.ok(ok, `S3 resource outside the stack's buckets: ${r}`);
          }
        }
        if (actions.some((a) => a.startsWith("ssm:GetParameter"))) {
          assert.deepEqual(res, [`arn:aws:ssm:eu-west-1:123456789012:parameter/monitoring-hosts/${stackName}/*`]);
        }
        if (res.includes("*")) assert.ok(actions.every((a) => /^(ssm|ssmmessages|ec2messages):/.test(a)) && !actions.some((a) => a.startsWith("ssm:GetParameter")));
      }
      const telemetry = doc.Statement.find((s: any) => s.Sid === "TelemetryBucketsObjects");
      assert.deepEqual([...telemetry.Action].sort(), ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"]);
    });

    it("stores every host secret as an SSM SecureString below the stack's prefix", () => {
      const params = b.of("aws:ssm/parameter:Parameter").filter((p) => !p.inputs.name.startsWith("/monitoring-hosts-otlp-clients/"));
      assert.ok(params.length >= 2 + cfg.alerting.receivers.filter((r) => r.secret).length);
      for (const p of params) {
        assert.equal(p.inputs.type, "SecureString");
        assert.ok(isSecretValue(p.inputs.value), `${p.inputs.name}: value is a secret in state`);
        assert.ok(p.inputs.name.startsWith(`/monitoring-hosts/${stackName}/`), p.inputs.name);
      }
    });

    it("issues every OTLP sender its own CA and client certificate, delivered through SSM outside the host's prefix", () => {
      const certs = b.of("tls:index/locallySignedCert:LocallySignedCert");
      const cas = b.of("tls:index/selfSignedCert:SelfSignedCert");
      const clientParams = b.of("aws:ssm/parameter:Parameter").filter((p) => p.inputs.name.startsWith("/monitoring-hosts-otlp-clients/"));
      assert.ok(cfg.otlp.clients.length >= 1);
      for (const client of cfg.otlp.clients) {
        const ca = cas.find((c) => c.name.endsWith(`-client-${client}-ca`));
        assert.ok(ca, `${client}: no CA of its own`);
        assert.equal(ca.inputs.isCaCertificate, true);
        const cert = certs.find((c) => c.name.endsWith(`-client-${client}`));
        assert.ok(cert, `${client}: no client certificate`);
        assert.deepEqual([...cert.inputs.allowedUses].sort(), ["client_auth", "digital_signature"], "a client certificate cannot serve");
        assert.match(cert.inputs.caCertPem, new RegExp(`MOCK-${ca.name}\\n`), "signed by the application's own CA");
        const names = ["certificate", "private-key", "server-ca"].map((n) => `/monitoring-hosts-otlp-clients/${stackName}/${client}/${n}`);
        for (const n of names) assert.ok(clientParams.some((p) => p.inputs.name === n), `missing ${n}`);
        const key = clientParams.find((p) => p.inputs.name === names[1])!;
        assert.equal(key.inputs.type, "SecureString");
        assert.ok(isSecretValue(key.inputs.value), "the client key is a secret in state");
      }
      // The host's instance role reads /<project>/<stack>/*: the application keys are not below it.
      for (const p of clientParams) assert.ok(!p.inputs.name.startsWith(`/monitoring-hosts/${stackName}/`));
      // The collector trusts exactly the applications' CAs (not the server CA).
      const files = JSON.parse(b.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs.content).files as { path: string; content: string }[];
      const bundle = files.find((f) => f.path === OTLP_CLIENT_CA_PATH)!.content;
      assert.deepEqual(
        bundle.match(/MOCK-\S+/g),
        cfg.otlp.clients.map((c) => `MOCK-${b.prefix}-otlp-client-${c}-ca`),
      );
      const server = certs.find((c) => c.name.endsWith("-otlp-server"))!;
      assert.ok(!server.inputs.allowedUses.includes("client_auth"), "the server certificate cannot be used as a client certificate");
    });

    it("tags every taggable resource with Name, environment and stack", () => {
      const aws = resources.filter((r) => r.name.startsWith(`${b.prefix}-`) && r.type.startsWith("aws:") && !UNTAGGABLE.has(r.type));
      assert.ok(aws.length > 20);
      for (const r of aws) {
        assert.ok(r.inputs.tags, `${r.type} ${r.name} has no tags`);
        assert.equal(r.inputs.tags.environment, stackName, `${r.name} environment tag`);
        assert.equal(r.inputs.tags.stack, `monitoring-hosts/${stackName}`);
        assert.ok(r.inputs.tags.Name);
      }
    });

    it("boots from small user data under the 16 KB limit, with no secret in it", () => {
      const userData: string = b.one("aws:ec2/instance:Instance").inputs.userData;
      assert.ok(userData.startsWith("#cloud-config"), "cloud-config user data");
      assert.ok(Buffer.byteLength(userData) < USER_DATA_LIMIT, `user data is ${Buffer.byteLength(userData)} bytes`);
      for (const secret of secretValues(stackName)) assert.ok(!userData.includes(secret), "secret in user data");
    });

    it("never puts a secret into any resource input except the SSM parameters", () => {
      for (const r of resources.filter((x) => x.name.startsWith(`${b.prefix}-`) && x.type !== "aws:ssm/parameter:Parameter")) {
        const text = JSON.stringify(r.inputs);
        for (const secret of secretValues(stackName)) assert.ok(!text.includes(secret), `secret in ${r.type} ${r.name}`);
      }
      const paramText = JSON.stringify(b.of("aws:ssm/parameter:Parameter").map((p) => p.inputs.value));
      assert.ok(secretValues(stackName).every((s) => paramText.includes(s)), "each secret reaches its SSM parameter");
    });

    it("uploads the config bundle to the stack's key before the instance boots", () => {
      const object = b.one("aws:s3/bucketObjectv2:BucketObjectv2");
      assert.equal(object.inputs.key, `hosts/${stackName}/bundle.json`);
      assert.doesNotThrow(() => JSON.parse(object.inputs.content));
    });

    it("exposes the outputs on-call needs", async () => {
      const s = b.stack;
      assert.equal(await valueOf(s.instanceId), "i-0123456789abcdef0");
      assert.match(await valueOf(s.privateIp), /^10\.\d+\.\d+\.\d+$/);
      assert.equal(await valueOf(s.dataVolumeId), "vol-0123456789abcdef0");
      assert.match(await valueOf(s.lokiBucket), /telemetry-loki/);
      assert.match(await valueOf(s.tempoBucket), /telemetry-tempo/);
      const sshConfig = await valueOf(s.sshConfig);
      assert.match(sshConfig, new RegExp(`^Host monitoring-hosts-${stackName}\\n  HostName i-0123456789abcdef0\\n  User ec2-user\\n  ProxyCommand sh -c "aws ssm start-session --region eu-west-1 --target %h --document-name AWS-StartSSHSession`));
      assert.match(await valueOf(s.sshCommand), /AWS-StartSSHSession.*ec2-user@i-0123456789abcdef0/);
      assert.equal(await pulumi.isSecret(s.automationPrivateKey), true);
      assert.match(await valueOf(s.otlpCaCertificate), /BEGIN CERTIFICATE/);
    });
  });
}

describe("secret rotation", () => {
  it("a new secret value changes the bundle (parameter version) and restarts only its consumer; user data stays", async () => {
    const a = await build("dev", {}, "rotate-a-dev", { grafanaAdminPassword: "first-password-0123456789" });
    const b2 = await build("dev", {}, "rotate-b-dev", { grafanaAdminPassword: "second-password-0123456789" });
    // Resource names (and so bucket names, mock certificates) differ by prefix: compare with it blanked out.
    const bundle = (x: Built) => JSON.parse(x.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs.content.replace(new RegExp(x.prefix, "g"), "X"));
    const ba = bundle(a);
    const bb = bundle(b2);
    // No file changes: only the secret's parameter version in the bundle's `secrets`, which makes the apply step
    // restart the secrets unit and the one unit that loads it (host-agent tests, "secret changes").
    assert.deepEqual(bb.files, ba.files);
    const changed = bb.secrets.filter((s: any, i: number) => JSON.stringify(s) !== JSON.stringify(ba.secrets[i]));
    assert.deepEqual(changed.map((s: any) => [s.id, s.unit]), [["grafana-admin-password", "grafana.service"]]);
    assert.equal(typeof changed[0].version, "number");
    assert.notEqual(changed[0].version, ba.secrets.find((s: any) => s.id === "grafana-admin-password").version);
    const ud = (x: Built, prefix: string) => x.one("aws:ec2/instance:Instance").inputs.userData.replace(new RegExp(prefix, "g"), "X");
    assert.equal(ud(a, "rotate-a-dev"), ud(b2, "rotate-b-dev"));
  });
});

describe("egress", () => {
  it("allows HTTPS out, SMTP for email receivers, and app metrics ports only towards the application networks", async () => {
    const b = await build("prd", { appScrapeTargets: [{ service: "appointments-api", targets: ["10.10.4.5:9464", "10.10.4.6:9464"] }] }, "egress-prd");
    const out = b.of("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map((r) => `${r.inputs.fromPort} ${r.inputs.cidrIpv4 ?? r.inputs.referencedSecurityGroupId}`);
    assert.deepEqual(out.sort(), ["443 0.0.0.0/0", "587 0.0.0.0/0", "9464 10.10.0.0/16"]);
  });
});

describe("ssh access mode", () => {
  it("opens port 22 only from the admin networks", async () => {
    const b = await build("dev", { accessMode: "ssh", sshAdminCidrs: ["192.168.10.0/24"] }, "ssh-mode-dev");
    const ssh = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.fromPort === 22);
    assert.deepEqual(ssh.map((r) => r.inputs.cidrIpv4), ["192.168.10.0/24"]);
    assert.match(await valueOf(b.stack.sshCommand), /^ssh ec2-user@10\./);
    assert.deepEqual(
      ingressRules(stackConfig("dev", { accessMode: "ssh", sshAdminCidrs: ["192.168.10.0/24"] })).filter((r) => r.port === 22).length,
      1,
    );
  });
});

describe("operations resources", () => {
  for (const stackName of ["dev", "prd"]) {
    it(`${stackName}: snapshots the data volume daily, kept per environment`, async () => {
      const cfg = stackConfig(stackName);
      const prefix = `monitoring-hosts-${stackName}`;
      const policy = byType("aws:dlm/lifecyclePolicy:LifecyclePolicy", prefix);
      assert.equal(policy.length, 1);
      const details = policy[0].inputs.policyDetails;
      assert.equal(details.schedules[0].retainRule.count, cfg.operations.snapshotRetentionDays);
      assert.equal(details.schedules[0].createRule.interval, 24);
      const volume = byType("aws:ebs/volume:Volume", prefix)[0];
      for (const [k, v] of Object.entries(details.targetTags)) assert.equal(volume.inputs.tags[k], v, "the volume carries the policy's target tag");
    });

    it(`${stackName}: EC2 status-check alarms recover the host and notify SNS`, () => {
      const prefix = `monitoring-hosts-${stackName}`;
      const alarms = byType("aws:cloudwatch/metricAlarm:MetricAlarm", prefix);
      const system = alarms.find((a) => a.inputs.metricName === "StatusCheckFailed_System");
      const instance = alarms.find((a) => a.inputs.metricName === "StatusCheckFailed_Instance");
      assert.ok(system && instance);
      assert.ok(system.inputs.alarmActions.includes("arn:aws:automate:eu-west-1:ec2:recover"));
      assert.ok(instance.inputs.alarmActions.includes("arn:aws:automate:eu-west-1:ec2:reboot"));
      assert.equal(system.inputs.dimensions.InstanceId, "i-0123456789abcdef0");
      const topicArn = system.inputs.alarmActions.find((a: string) => a.includes(":sns:"));
      assert.ok(topicArn, "alarm notifies the SNS topic");
      const subs = byType("aws:sns/topicSubscription:TopicSubscription", prefix);
      assert.deepEqual(subs.map((s) => s.inputs.endpoint), stackConfig(stackName).operations.hostAlarmEmails);
    });
  }
});

describe("deploy verification command", () => {
  it("runs after the host and every bundle change, through SSM by default, with no key in its environment", () => {
    const cmd = byType("command:local:Command", "monitoring-hosts-dev-");
    assert.equal(cmd.length, 1);
    const bundle = byType("aws:s3/bucketObjectv2:BucketObjectv2", "monitoring-hosts-dev-")[0];
    const etag = require("crypto").createHash("md5").update(bundle.inputs.content).digest("hex");
    assert.deepEqual(cmd[0].inputs.triggers, ["i-0123456789abcdef0", etag]);
    assert.match(cmd[0].inputs.create, /scripts\/verify-deploy\.sh"$/);
    const env = cmd[0].inputs.environment;
    assert.equal(env.MODE, "ssm");
    assert.equal(env.INSTANCE_ID, "i-0123456789abcdef0");
    assert.equal(env.EXPECT_ETAG, etag);
    assert.equal(env.HEALTH_SCRIPT, "/usr/local/lib/monitoring-host/monitoring-health");
    assert.equal(env.SSH_PRIVATE_KEY, undefined);
  });

  it("uses the automation key over ssh in ssh mode", () => {
    const cmd = byType("command:local:Command", "ssh-mode-dev-");
    assert.equal(cmd.length, 1);
    assert.ok(isSecretValue(cmd[0].inputs.environment), "the environment holding the key is a secret in state");
    const env = plain(cmd[0].inputs.environment);
    assert.equal(env.MODE, "ssh");
    assert.match(env.SSH_PRIVATE_KEY, /OPENSSH PRIVATE KEY/);
    assert.match(env.SSH_HOST, /^10\./);
  });

  it("can be switched off", async () => {
    await build("dev", { verifyDeploy: false }, "no-verify-dev");
    assert.equal(byType("command:local:Command", "no-verify-dev-").length, 0);
  });

  it("changes its trigger when a rendered file changes, without touching user data", async () => {
    const a = await build("dev", { metricsRetention: "8d" }, "trigger-a-dev");
    const b2 = await build("dev", { metricsRetention: "9d" }, "trigger-b-dev");
    const etagA = a.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs.content;
    const etagB = b2.one("aws:s3/bucketObjectv2:BucketObjectv2").inputs.content;
    assert.notEqual(etagA, etagB, "the bundle changed");
    const cmdA = a.one("command:local:Command").inputs.triggers[1];
    const cmdB = b2.one("command:local:Command").inputs.triggers[1];
    assert.notEqual(cmdA, cmdB, "the check re-runs");
    const udA = a.one("aws:ec2/instance:Instance").inputs.userData.replace(/trigger-a-dev/g, "X");
    const udB = b2.one("aws:ec2/instance:Instance").inputs.userData.replace(/trigger-b-dev/g, "X");
    assert.equal(udA, udB, "user data did not change: the instance is not replaced or restarted");
  });
});

/**
 * A small evaluator for the statements this program writes (Allow only; StringEquals and ArnLike with `*`
 * wildcards; actions with a trailing `*`), to ask whether AWS would let a given request through.
 */
interface PolicyRequest {
  principal: { Service?: string; AWS?: string };
  action: string;
  context: Record<string, string>;
}
function allows(policy: any, req: PolicyRequest): boolean {
  const glob = (pattern: string, value: string) =>
    new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(value);
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]) as string[];
  return policy.Statement.some((st: any) => {
    if (st.Effect !== "Allow") return false;
    const principalOk = Object.entries(st.Principal).every(([kind, v]) => list(v).includes((req.principal as any)[kind]));
    if (!principalOk) return false;
    if (!list(st.Action).some((a) => glob(a, req.action))) return false;
    for (const [op, conds] of Object.entries<Record<string, string>>(st.Condition ?? {})) {
      for (const [key, expected] of Object.entries(conds)) {
        const actual = req.context[key];
        if (actual === undefined) return false;
        if (op === "StringEquals" && !list(expected).includes(actual)) return false;
        if (op === "ArnLike" && !list(expected).some((e) => glob(e, actual))) return false;
        if (!["StringEquals", "ArnLike"].includes(op)) throw new Error(`evaluator does not know ${op}`);
      }
    }
    return true;
  });
}

describe("host alarm notifications (issue 11 items 1 and 11)", () => {
  for (const stackName of ["dev", "prd"]) {
    describe(stackName, () => {
      const prefix = `alarms-${stackName}-alarms`;
      before(async () => {
        await build(stackName, {}, `alarms-${stackName}`);
      });
      const alarmArn = (account: string, name: string) => `arn:aws:cloudwatch:eu-west-1:${account}:alarm:${name}`;
      const cw = (action: string, account: string, alarmName: string): PolicyRequest => ({
        principal: { Service: "cloudwatch.amazonaws.com" },
        action,
        context: { "aws:SourceAccount": account, "aws:SourceArn": alarmArn(account, alarmName) },
      });
      // The alarm's name as CloudWatch knows it (set explicitly, so no autonaming pattern can change it).
      const physical = (r: RecordedResource) => {
        assert.equal(typeof r.inputs.name, "string", `${r.name} has an explicit name`);
        return r.inputs.name as string;
      };

      it("encrypts the topic with a rotating customer-managed key, never the AWS-managed alias/aws/sns", () => {
        const [topic] = byType("aws:sns/topic:Topic", prefix);
        const [key] = byType("aws:kms/key:Key", prefix);
        assert.ok(topic && key);
        assert.notEqual(topic.inputs.kmsMasterKeyId, "alias/aws/sns");
        assert.equal(topic.inputs.kmsMasterKeyId, `arn:aws:kms:eu-west-1:${FAKE_ACCOUNT}:${key.name}`, "the topic uses this stack's key");
        assert.equal(key.inputs.enableKeyRotation, true);
        const [alias] = byType("aws:kms/alias:Alias", prefix);
        assert.match(alias.inputs.name, new RegExp(`^alias/monitoring-hosts-${stackName}-`));
      });

      it("key policy: this stack's alarms may encrypt for the topic; other alarms, accounts and actions may not; the account administers it", () => {
        const policy = JSON.parse(byType("aws:kms/key:Key", prefix)[0].inputs.policy);
        const alarms = byType("aws:cloudwatch/metricAlarm:MetricAlarm", prefix);
        assert.equal(alarms.length, 2);
        for (const a of alarms) {
          for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
            assert.ok(allows(policy, cw(action, FAKE_ACCOUNT, physical(a))), `${a.name}: ${action}`);
          }
        }
        const ours = physical(alarms[0]);
        assert.ok(!allows(policy, cw("kms:GenerateDataKey", "999999999999", ours)), "an alarm of another account");
        assert.ok(!allows(policy, cw("kms:GenerateDataKey", FAKE_ACCOUNT, "someone-elses-alarm")), "another alarm of the account");
        assert.ok(!allows(policy, cw("kms:CreateGrant", FAKE_ACCOUNT, ours)), "more than encrypting for the topic");
        assert.ok(!allows(policy, { ...cw("kms:Decrypt", FAKE_ACCOUNT, ours), context: {} }), "no source context: refused");
        assert.ok(allows(policy, { principal: { AWS: `arn:aws:iam::${FAKE_ACCOUNT}:root` }, action: "kms:PutKeyPolicy", context: {} }), "the account administers the key");
        assert.ok(!allows(policy, { principal: { AWS: "arn:aws:iam::999999999999:root" }, action: "kms:Decrypt", context: {} }));
      });

      it("topic policy: this stack's alarms may publish, no one else through it", () => {
        const [topicPolicy] = byType("aws:sns/topicPolicy:TopicPolicy", prefix);
        const [topic] = byType("aws:sns/topic:Topic", prefix);
        const policy = JSON.parse(topicPolicy.inputs.policy);
        assert.equal(topicPolicy.inputs.arn, `arn:aws:sns:eu-west-1:${FAKE_ACCOUNT}:${topic.name}`);
        for (const st of policy.Statement) assert.equal(st.Resource, topicPolicy.inputs.arn);
        for (const a of byType("aws:cloudwatch/metricAlarm:MetricAlarm", prefix)) {
          assert.ok(allows(policy, cw("sns:Publish", FAKE_ACCOUNT, physical(a))), a.name);
          assert.ok(a.inputs.alarmActions.includes(topicPolicy.inputs.arn));
        }
        assert.ok(!allows(policy, cw("sns:Publish", "999999999999", "x")));
        assert.ok(!allows(policy, cw("sns:Subscribe", FAKE_ACCOUNT, physical(byType("aws:cloudwatch/metricAlarm:MetricAlarm", prefix)[0]))));
      });

      it("a stopped or replaced instance (no status-check data) neither recovers, reboots nor notifies", () => {
        for (const a of byType("aws:cloudwatch/metricAlarm:MetricAlarm", prefix)) {
          assert.equal(a.inputs.treatMissingData, "notBreaching", `${a.name}: missing data must count as healthy`);
          assert.equal(a.inputs.insufficientDataActions, undefined, `${a.name}: no action on missing data`);
          assert.ok(a.inputs.alarmDescription.length <= 1024);
        }
      });
    });
  }
});

describe("resource options set on the resources themselves (issue 11 items 3 and 4)", () => {
  /** Builds a stack and records the options each resource was constructed with (not inherited ones). */
  async function buildRecordingOptions(stackName: string, prefix: string, overrides: Record<string, unknown> = {}) {
    const seen = new Map<string, { type: string; opts: pulumi.CustomResourceOptions }>();
    const record: pulumi.ResourceTransformation = (a) => {
      // A component and its main resource often share a name: key by both.
      seen.set(`${a.type}::${a.name}`, { type: a.type, opts: a.opts });
      return undefined;
    };
    const stack = new MonitoringStack(prefix, { config: stackConfig(stackName, overrides) }, { transformations: [record] });
    await valueOf(stack.sshConfig);
    await settle();
    return seen;
  }
  /** Resources holding (or guarding) data that must outlive the stack in prd. */
  const DATA = [
    ["aws:ebs/volume:Volume", /-data$/],
    ["aws:s3/bucket:Bucket", /-telemetry-(loki|tempo)$/],
    ["aws:kms/key:Key", /-alarms$/],
    ["aws:dlm/lifecyclePolicy:LifecyclePolicy", /-backups$/],
  ] as const;

  for (const stackName of ["dev", "prd"]) {
    it(`${stackName}: data volume, telemetry buckets, alarm key and snapshot policy carry protect and retainOnDelete ${stackName === "prd" ? "themselves" : "not at all"}`, async () => {
      const seen = await buildRecordingOptions(stackName, `opts-${stackName}`);
      for (const [type, name] of DATA) {
        const found = [...seen.entries()].filter(([n, r]) => r.type === type && name.test(n.split("::")[1]));
        assert.ok(found.length >= 1, `${type} ${name}`);
        for (const [n, r] of found) {
          const expected = stackName === "prd" ? true : undefined;
          assert.equal(r.opts.protect, expected, `${n}: protect`);
          assert.equal(r.opts.retainOnDelete, expected, `${n}: retainOnDelete`);
        }
      }
      // The bundle bucket is rendered from code: never retained.
      const bundle = [...seen.entries()].find(([n, r]) => r.type === "aws:s3/bucket:Bucket" && /-config$/.test(n.split("::")[1]));
      assert.ok(bundle);
      assert.equal(bundle[1].opts.retainOnDelete, undefined);
    });
  }

  it("an architecture change replaces the instance (replacementTrigger), the AMI alone does not; the data volume is untouched", async () => {
    const x86 = await buildRecordingOptions("dev", "arch-x86");
    const arm = await buildRecordingOptions("dev", "arch-arm", arm64Overrides("t4g.large"));
    const instanceOpts = (seen: Map<string, { type: string; opts: pulumi.CustomResourceOptions }>) =>
      [...seen.values()].filter((r) => r.type === "aws:ec2/instance:Instance").map((r) => r.opts);
    const [a, b] = [instanceOpts(x86), instanceOpts(arm)];
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
    assert.equal(a[0].replacementTrigger, "x86_64");
    assert.equal(b[0].replacementTrigger, "arm64");
    assert.deepEqual(a[0].ignoreChanges, ["ami"], "a new AMI release alone still does not replace the host");
    assert.equal(a[0].deleteBeforeReplace, true, "the old host releases the ENI and data volume first");
    const amis = [byType("aws:ec2/instance:Instance", "arch-x86-")[0].inputs.ami, byType("aws:ec2/instance:Instance", "arch-arm-")[0].inputs.ami];
    assert.deepEqual(amis, ["ami-0x8664000000000", "ami-0arm64000000000"], "the replacement boots the new architecture's AMI");
    for (const seen of [x86, arm]) {
      const volume = [...seen.values()].find((r) => r.type === "aws:ebs/volume:Volume");
      assert.equal(volume?.opts.replacementTrigger, undefined, "the data volume is not replaced");
    }
  });
});
