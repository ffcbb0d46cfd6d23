/**
 * The one place that calls `pulumi.runtime.setMocks` (several spec files each calling it: the last one wins).
 * Every registered resource is recorded with its inputs, so specs assert on what would be sent to AWS.
 */
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

export const PROJECT = "monitoring-hosts";
export const resources: RecordedResource[] = [];
export const FAKE_ACCOUNT = "123456789012";

function fakeState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  const arnOf = (service: string, rest: string) => `arn:aws:${service}:eu-west-1:${FAKE_ACCOUNT}:${rest}`;
  switch (type) {
    case "aws:s3/bucket:Bucket": {
      const bucket = `${name}-abc123`;
      return { bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case "aws:s3/bucketObjectv2:BucketObjectv2":
      // S3's ETag of a single-part upload is the MD5 of the content.
      return { etag: createHash("md5").update(String(inputs.content ?? "")).digest("hex") };
    case "aws:ssm/parameter:Parameter":
      // A stand-in for SSM's version counter: a different value gives a different version.
      return { version: 1 + (parseInt(createHash("md5").update(JSON.stringify(inputs.value ?? "")).digest("hex").slice(0, 6), 16) % 997) };
    case "aws:ec2/networkInterface:NetworkInterface":
      // A pair's second interface (`…-net-1`) gets the next address.
      return { privateIp: `${name.includes("prd") ? "10.10.1" : "10.0.1"}.${name.endsWith("-net-1") ? 21 : 20}` };
    case "aws:ec2/instance:Instance":
      return { privateIp: "10.0.1.20", arn: arnOf("ec2", `instance/i-${name}`) };
    case "aws:lb/loadBalancer:LoadBalancer":
      return { arn: arnOf("elasticloadbalancing", `loadbalancer/net/${name}`), dnsName: `${name}-0123456789abcdef.elb.eu-west-1.amazonaws.com` };
    case "aws:amp/workspace:Workspace":
      return { arn: arnOf("aps", `workspace/ws-mock-${name}`), prometheusEndpoint: `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-mock-${name}/` };
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::${FAKE_ACCOUNT}:role/${name}`, name };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { arn: `arn:aws:iam::${FAKE_ACCOUNT}:instance-profile/${name}`, name };
    case "tls:index/privateKey:PrivateKey":
      return {
        // The same for every key: SSM versions (a hash of the value here) then change only when a test changes a value.
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\nMOCK-KEY-${inputs.algorithm}\n-----END PRIVATE KEY-----\n`,
        privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK-${name}\n-----END OPENSSH PRIVATE KEY-----\n`,
        publicKeyOpenssh: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMOCKMOCKMOCKMOCKMOCKMOCKMOCKMOCKMOCKMOCKMOCK\n",
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nMOCK-${name}\n-----END CERTIFICATE-----\n` };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nMOCK-${name}\n-----END CERTIFICATE REQUEST-----\n` };
    default:
      return { arn: arnOf(type.split(":")[1]?.split("/")[0] ?? "mock", name) };
  }
}

pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs) {
      resources.push({ type: args.type, name: args.name, inputs: args.inputs });
      // A pair's second host and volume (`…-1`) get ids of their own.
      const second = /-1$/.test(args.name) ? "1" : "0";
      const id = args.type === "aws:ebs/volume:Volume" ? `vol-0123456789abcdef${second}` : args.type === "aws:ec2/instance:Instance" ? `i-0123456789abcdef${second}` : `${args.name}-id`;
      return { id, state: { ...args.inputs, ...fakeState(args.type, args.name, args.inputs) } };
    },
    call(args: pulumi.runtime.MockCallArgs) {
      switch (args.token) {
        case "aws:index/getCallerIdentity:getCallerIdentity":
          return { accountId: FAKE_ACCOUNT, arn: `arn:aws:iam::${FAKE_ACCOUNT}:user/test`, userId: "test" };
        case "aws:index/getPartition:getPartition":
          return { partition: "aws", dnsSuffix: "amazonaws.com" };
        case "aws:ssm/getParameter:getParameter":
          return { ...args.inputs, value: args.inputs.name.endsWith("arm64") ? "ami-0arm64000000000" : "ami-0x8664000000000", type: "String" };
        case "aws:ec2/getSubnet:getSubnet":
          // The zone follows the id's last hex digit (0, 3, 6, … → a; 1, 4, … → b): a pair test picks its subnets.
          // A subnet id with "ffff" in it lies in another VPC than the committed stacks'.
          return { ...args.inputs, availabilityZone: subnetZone(String(args.inputs.id)), vpcId: String(args.inputs.id).includes("ffff") ? "vpc-0ffff000000000000" : "vpc-00000000000000000" };
        default:
          return args.inputs;
      }
    },
  },
  PROJECT,
  "test",
  false, // preview=false: outputs resolve, so `apply` runs (with preview=true unknowns would hang the test)
);

/** The availability zone the mocks give a subnet: `subnet-…0` is in eu-west-1a, `subnet-…1` in eu-west-1b. */
export function subnetZone(subnetId: string): string {
  return `eu-west-1${"abc"[parseInt(subnetId.slice(-1), 16) % 3]}`;
}

/** The resolved value of an output. */
export function valueOf<T>(o: pulumi.Output<T> | pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => { resolve(v as T); return v; }));
}

/** Waits until every pending resource registration has been recorded. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

export function byType(type: string, prefix = ""): RecordedResource[] {
  return resources.filter((r) => r.type === type && r.name.startsWith(prefix));
}

/** Pulumi's marker for a secret value as the mock monitor receives it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(v: unknown): boolean {
  return !!v && typeof v === "object" && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_SIG_VALUE;
}

/** The value inside a secret marker (or the value itself). */
export function plain<T = any>(v: unknown): T {
  return (isSecretValue(v) ? (v as { value: unknown }).value : v) as T;
}
