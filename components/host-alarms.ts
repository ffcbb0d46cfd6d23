import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "./config";
import { resourceTags } from "./tags";

export interface HostAlarmsArgs {
  config: StackConfig;
  instanceId: pulumi.Input<string>;
}

/**
 * The watcher's watcher. When the monitoring host dies its own Alertmanager cannot tell anyone, so AWS does:
 * CloudWatch alarms on the EC2 status checks recover the instance (system check: moved to healthy hardware, same
 * ENI and volumes) or reboot it (instance check), and notify an SNS topic that emails on-call and/or calls a pager.
 * The always-firing Watchdog alert, routed to an external dead-man's switch, covers the case where the host runs
 * but its alerting pipeline does not.
 */
export class HostAlarms extends pulumi.ComponentResource {
  readonly topic: aws.sns.Topic;

  constructor(name: string, args: HostAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:operations:HostAlarms", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };

    this.topic = new aws.sns.Topic(
      name,
      { displayName: `${cfg.project} ${cfg.stack} monitoring host`, kmsMasterKeyId: "alias/aws/sns", tags: resourceTags(cfg, name) },
      child,
    );
    cfg.operations.hostAlarmEmails.forEach((email, i) => {
      new aws.sns.TopicSubscription(`${name}-email-${i}`, { topic: this.topic.arn, protocol: "email", endpoint: email }, child);
    });
    const pager = cfg.operations.hostAlarmPagerUrl;
    if (pager?.readable) {
      new aws.sns.TopicSubscription(
        `${name}-pager`,
        { topic: this.topic.arn, protocol: "https", endpoint: pulumi.secret(pager.reveal()), endpointAutoConfirms: true },
        child,
      );
    }

    const alarm = (check: "System" | "Instance", action: string, what: string) =>
      new aws.cloudwatch.MetricAlarm(
        `${name}-${check.toLowerCase()}-check`,
        {
          alarmDescription: `${cfg.project}/${cfg.stack} monitoring host failed its EC2 ${check.toLowerCase()} status check: ${what}. Runbook: ${cfg.runbookBaseUrl}/monitoring-host-down.md`,
          namespace: "AWS/EC2",
          metricName: `StatusCheckFailed_${check}`,
          dimensions: { InstanceId: args.instanceId },
          statistic: "Maximum",
          period: 60,
          evaluationPeriods: 2,
          datapointsToAlarm: 2,
          comparisonOperator: "GreaterThanOrEqualToThreshold",
          threshold: 1,
          // No data means the instance is gone or stopped: that is an outage of monitoring too.
          treatMissingData: "breaching",
          alarmActions: [action, this.topic.arn],
          okActions: [this.topic.arn],
          tags: resourceTags(cfg, `${name}-${check.toLowerCase()}-check`),
        },
        child,
      );
    alarm("System", `arn:aws:automate:${cfg.region}:ec2:recover`, "recovering it onto healthy hardware");
    alarm("Instance", `arn:aws:automate:${cfg.region}:ec2:reboot`, "rebooting it");

    this.registerOutputs({ topicArn: this.topic.arn });
  }
}
