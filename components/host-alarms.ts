import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { SecretValue } from "../config/secret-value";
import { dataProtection } from "./data-protection";
import { hostAlarmDescription, STATUS_CHECK_ACTIONS, StatusCheck } from "../config/host-alarm-text";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface HostAlarmsArgs {
  labels: StackLabels;
  /** The stack's region: the EC2 recover/reboot actions and the key and topic policies name it. */
  region: string;
  /** Where the alarms' descriptions point on-call (`runbookBaseUrl`; unset: the host's own Grafana). */
  runbookBaseUrl?: string;
  /** Email addresses subscribed to the alarm topic (`hostAlarmEmails`; each confirms its subscription). */
  hostAlarmEmails: string[];
  /** A pager's HTTPS integration URL subscribed to the topic (`hostAlarmPagerUrl`, secret). */
  hostAlarmPagerUrl?: SecretValue;
  /** `protectData`: the topic's key cannot be deleted by Pulumi and is left in AWS if it ever is. */
  protectData: boolean;
  /** The host whose status checks are watched. */
  instanceId: pulumi.Input<string>;
  /** A pair's second host: the same two alarms, on the same topic. */
  secondInstanceId?: pulumi.Input<string>;
}

/** The account, partition and region the alarms live in: what the key and topic policies are scoped to. */
export interface AlarmScope {
  accountId: string;
  partition: string;
  region: string;
  /** Name pattern of the alarms allowed to publish (`<component name>-*`; the alarms are named explicitly to match). */
  alarmNamePattern: string;
}

const CLOUDWATCH = "cloudwatch.amazonaws.com";

/**
 * The condition that lets the CloudWatch service act only for this stack's alarms (confused-deputy guard). CloudWatch
 * sends aws:SourceAccount and aws:SourceArn (the alarm's ARN) with its sns:Publish (AWS re:Post, "Why didn't I
 * receive an SNS notification for my CloudWatch alarm trigger?") and with the KMS calls for an encrypted topic (AWS
 * Labs' MDAA grantCloudWatchAlarmsTopicAccess scopes its key grant the same way; unlike EventBridge, whose KMS
 * requests carry neither key).
 */
function fromOurAlarms(s: AlarmScope) {
  return {
    StringEquals: { "aws:SourceAccount": s.accountId },
    ArnLike: { "aws:SourceArn": `arn:${s.partition}:cloudwatch:${s.region}:${s.accountId}:alarm:${s.alarmNamePattern}` },
  };
}

/**
 * Key policy of the topic's customer-managed key. CloudWatch alarms cannot publish to a topic encrypted with the
 * AWS-managed key alias/aws/sns (its policy cannot be changed to admit cloudwatch.amazonaws.com): AWS's
 * "Enable compatibility between event sources from AWS services and encrypted topics"
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services) asks for a
 * customer-managed key whose policy gives the service kms:GenerateDataKey* and kms:Decrypt. The first statement is
 * AWS's default key policy (the account administers the key through IAM), without which nobody could manage it.
 */
export function alarmTopicKeyPolicy(s: AlarmScope): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "AccountAdministersKey",
        Effect: "Allow",
        Principal: { AWS: `arn:${s.partition}:iam::${s.accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "CloudWatchAlarmsEncryptForTopic",
        Effect: "Allow",
        Principal: { Service: CLOUDWATCH },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: fromOurAlarms(s),
      },
    ],
  };
}

/**
 * Topic policy: CloudWatch may publish for this stack's alarms only (AWS re:Post, "Why didn't I receive an SNS
 * notification for my CloudWatch alarm trigger?": sns:Publish for cloudwatch.amazonaws.com, scoped by
 * aws:SourceArn). Principals of the account keep their IAM-granted access (same-account resource policies add).
 */
export function alarmTopicPolicy(s: AlarmScope, topicArn: string): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "CloudWatchAlarmsPublish",
        Effect: "Allow",
        Principal: { Service: CLOUDWATCH },
        Action: "sns:Publish",
        Resource: topicArn,
        Condition: fromOurAlarms(s),
      },
    ],
  };
}

/**
 * How the status-check alarms treat missing data. A stopped or replaced instance publishes no status-check data; with
 * `breaching` every planned stop, instance-type change or replacement would set off recover/reboot and page. With
 * `notBreaching` missing points count as healthy ("Configuring how CloudWatch alarms treat missing data", Amazon
 * CloudWatch User Guide), and the alarm stays OK, so neither action nor notification fires. A host that is gone for
 * good is noticed by the Watchdog dead man's switch (docs/operations.md), not by these alarms.
 */
export const STATUS_CHECK_MISSING_DATA = "notBreaching";

/**
 * The watcher's watcher. When the monitoring host dies its own Alertmanager cannot tell anyone, so AWS does:
 * CloudWatch alarms on the EC2 status checks recover the instance (system check: moved to healthy hardware, same
 * ENI and volumes) or reboot it (instance check), and notify an SNS topic that emails on-call and/or calls a pager.
 * The topic is encrypted with a key of its own that CloudWatch may use (see alarmTopicKeyPolicy). The always-firing
 * Watchdog alert, routed to an external dead-man's switch, covers the case where the host runs but its alerting
 * pipeline does not, or the host is gone.
 */
export class HostAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;
  readonly key: aws.kms.Key;

  constructor(name: string, args: HostAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:operations:HostAlarms", name, {}, opts);
    const cfg = { ...args.labels, runbookBaseUrl: args.runbookBaseUrl };
    const child = { parent: this };

    const identity = aws.getCallerIdentityOutput({}, child);
    const partition = aws.getPartitionOutput({}, child);
    const scope = pulumi.all([identity.accountId, partition.partition]).apply(
      ([accountId, p]): AlarmScope => ({ accountId, partition: p, region: args.region, alarmNamePattern: `${name}-*` }),
    );

    this.key = new aws.kms.Key(
      name,
      {
        description: `Encrypts the ${cfg.project}/${cfg.stack} host-alarm SNS topic; CloudWatch alarms may use it`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: scope.apply((s) => JSON.stringify(alarmTopicKeyPolicy(s))),
        tags: resourceTags(cfg, name),
      },
      // Deleting the key would silently stop every host alarm notification: protected like the data in prd.
      { parent: this, ...dataProtection(args) },
    );
    new aws.kms.Alias(name, { name: `alias/${cfg.project}-${cfg.stack}-host-alarms`, targetKeyId: this.key.keyId }, child);

    this.topic = new aws.sns.Topic(
      name,
      { displayName: `${cfg.project} ${cfg.stack} monitoring host`, kmsMasterKeyId: this.key.arn, tags: resourceTags(cfg, name) },
      child,
    );
    new aws.sns.TopicPolicy(
      name,
      { arn: this.topic.arn, policy: pulumi.all([scope, this.topic.arn]).apply(([s, arn]) => JSON.stringify(alarmTopicPolicy(s, arn))) },
      child,
    );
    args.hostAlarmEmails.forEach((email, i) => {
      new aws.sns.TopicSubscription(`${name}-email-${i}`, { topic: this.topic.arn, protocol: "email", endpoint: email }, child);
    });
    const pager = args.hostAlarmPagerUrl;
    if (pager?.readable) {
      new aws.sns.TopicSubscription(
        `${name}-pager`,
        { topic: this.topic.arn, protocol: "https", endpoint: pulumi.secret(pager.reveal()), endpointAutoConfirms: true },
        child,
      );
    }

    // Host 1's alarms are `<name>-host-1-…`: still inside the policies' `<name>-*`.
    const alarm = (check: StatusCheck, instanceId: pulumi.Input<string>, host = "") => {
      const alarmName = `${name}${host}-${check.toLowerCase()}-check`;
      return new aws.cloudwatch.MetricAlarm(
        alarmName,
        {
          // Named explicitly (not auto-named): the key and topic policies match the name, and a project-wide
          // autonaming pattern must not move the alarms out of that match. Unique per stack and region.
          name: alarmName,
          alarmDescription: hostAlarmDescription(cfg, check),
          namespace: "AWS/EC2",
          metricName: `StatusCheckFailed_${check}`,
          dimensions: { InstanceId: instanceId },
          statistic: "Maximum",
          period: 60,
          evaluationPeriods: 2,
          datapointsToAlarm: 2,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          threshold: 1,
          treatMissingData: STATUS_CHECK_MISSING_DATA,
          alarmActions: [`arn:aws:automate:${args.region}:ec2:${STATUS_CHECK_ACTIONS[check].action}`, this.topic.arn],
          okActions: [this.topic.arn],
          tags: resourceTags(cfg, alarmName),
        },
        child,
      );
    };
    alarm("System", args.instanceId);
    alarm("Instance", args.instanceId);
    if (args.secondInstanceId !== undefined) {
      alarm("System", args.secondInstanceId, "-host-1");
      alarm("Instance", args.secondInstanceId, "-host-1");
    }

    this.registerOutputs({ topic: this.topic, key: this.key, topicArn: this.topic.arn, keyArn: this.key.arn });
  }
}
