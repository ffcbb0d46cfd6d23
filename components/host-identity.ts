import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface HostIdentityArgs {
  labels: StackLabels;
  /** The stack's region: the secret parameters' ARNs name it. */
  region: string;
  /** ARNs of the Loki and Tempo buckets: the only buckets the host may read and write. */
  telemetryBucketArns: pulumi.Input<string>[];
  /** ARN of the config bucket and the keys of the hosts' bundles in it (read only; one per host of a pair). */
  configBucketArn: pulumi.Input<string>;
  configObjectKeys: string[];
  /** SSM parameter name prefix of this stack's secrets (e.g. `/monitoring-hosts/dev`). */
  secretParameterPrefix: string;
  /** With `remoteWrite`: the AMP workspace Prometheus writes to and Grafana reads. */
  ampWorkspaceArn?: pulumi.Input<string>;
}

/** Prometheus' remote write (AMP user guide, IAM permissions for ingesting metrics). */
export const AMP_WRITE_ACTIONS = ["aps:RemoteWrite"];
/** What Grafana's AMP data source queries with: the actions of the AWS managed policy AmazonPrometheusQueryAccess. */
export const AMP_QUERY_ACTIONS = ["aps:GetLabels", "aps:GetMetricMetadata", "aps:GetSeries", "aps:QueryMetrics"];

/** What Loki and Tempo need on their bucket objects (Tempo also tags objects). */
export const TELEMETRY_OBJECT_ACTIONS = [
  "s3:GetObject",
  "s3:PutObject",
  "s3:DeleteObject",
  "s3:GetObjectTagging",
  "s3:PutObjectTagging",
];

/**
 * What the SSM agent needs for Session Manager and Run Command. This is AmazonSSMManagedInstanceCore without its
 * `ssm:GetParameter(s)` on every parameter: the host may read only its own stack's parameters (below).
 * These actions do not support resource-level permissions, hence Resource "*".
 */
export const SSM_AGENT_ACTIONS = [
  "ssm:DescribeAssociation",
  "ssm:GetDeployablePatchSnapshotForInstance",
  "ssm:GetDocument",
  "ssm:DescribeDocument",
  "ssm:GetManifest",
  "ssm:ListAssociations",
  "ssm:ListInstanceAssociations",
  "ssm:PutInventory",
  "ssm:PutComplianceItems",
  "ssm:PutConfigurePackageResult",
  "ssm:UpdateAssociationStatus",
  "ssm:UpdateInstanceAssociationStatus",
  "ssm:UpdateInstanceInformation",
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
  "ec2messages:AcknowledgeMessage",
  "ec2messages:DeleteMessage",
  "ec2messages:FailMessage",
  "ec2messages:GetEndpoint",
  "ec2messages:GetMessages",
  "ec2messages:SendReply",
];

/**
 * The monitoring host's instance role and profile, with least-privilege inline policy. A pair's hosts share it: they
 * run the same services on the same buckets, secrets and workspace; the only difference, each host's own bundle
 * key, is listed in the one policy.
 */
export class HostIdentity extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly instanceProfile: aws.iam.InstanceProfile;
  /** The role's inline least-privilege policy (hostPolicyDocument). */
  readonly policy: aws.iam.RolePolicy;

  constructor(name: string, args: HostIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:identity:HostIdentity", name, {}, opts);
    const cfg = args.labels;
    const child = { parent: this };

    this.role = new aws.iam.Role(
      name,
      {
        description: `Monitoring host ${cfg.project}/${cfg.stack}`,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: resourceTags(cfg, name),
      },
      child,
    );

    const caller = aws.getCallerIdentityOutput({}, child);
    const partition = aws.getPartitionOutput({}, child);
    const policy = pulumi
      .all([pulumi.all(args.telemetryBucketArns), args.configBucketArn, caller.accountId, partition.partition, args.ampWorkspaceArn])
      .apply(([telemetryArns, configArn, account, part, ampWorkspaceArn]) =>
        JSON.stringify(
          hostPolicyDocument({
            telemetryBucketArns: telemetryArns,
            configBucketArn: configArn,
            configObjectKeys: args.configObjectKeys,
            parameterArnPrefix: `arn:${part}:ssm:${args.region}:${account}:parameter${args.secretParameterPrefix}`,
            ...(ampWorkspaceArn ? { ampWorkspaceArn } : {}),
          }),
        ),
      );
    this.policy = new aws.iam.RolePolicy(name, { role: this.role.id, policy }, child);

    this.instanceProfile = new aws.iam.InstanceProfile(name, { role: this.role.name, tags: resourceTags(cfg, name) }, child);
    this.registerOutputs({ role: this.role, policy: this.policy, instanceProfile: this.instanceProfile, roleArn: this.role.arn, instanceProfileName: this.instanceProfile.name });
  }
}

export function hostPolicyDocument(p: {
  telemetryBucketArns: string[];
  configBucketArn: string;
  configObjectKeys: string[];
  parameterArnPrefix: string;
  ampWorkspaceArn?: string;
}): { Version: string; Statement: { Sid: string; Effect: string; Action: string[]; Resource: string | string[] }[] } {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "TelemetryBucketsList", Effect: "Allow", Action: ["s3:ListBucket"], Resource: p.telemetryBucketArns },
      {
        Sid: "TelemetryBucketsObjects",
        Effect: "Allow",
        Action: TELEMETRY_OBJECT_ACTIONS,
        Resource: p.telemetryBucketArns.map((arn) => `${arn}/*`),
      },
      { Sid: "ConfigBundleRead", Effect: "Allow", Action: ["s3:GetObject"], Resource: p.configObjectKeys.map((key) => `${p.configBucketArn}/${key}`) },
      {
        Sid: "OwnSecretParametersRead",
        Effect: "Allow",
        Action: ["ssm:GetParameter", "ssm:GetParameters"],
        Resource: [`${p.parameterArnPrefix}/*`],
      },
      { Sid: "SsmAgent", Effect: "Allow", Action: SSM_AGENT_ACTIONS, Resource: "*" },
      ...(p.ampWorkspaceArn
        ? [
            { Sid: "AmpRemoteWrite", Effect: "Allow", Action: AMP_WRITE_ACTIONS, Resource: [p.ampWorkspaceArn] },
            { Sid: "AmpQueryForGrafana", Effect: "Allow", Action: AMP_QUERY_ACTIONS, Resource: [p.ampWorkspaceArn] },
          ]
        : []),
    ],
  };
}
