import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { dataProtection } from "./data-protection";
import { resourceTags } from "../config/tags";
import { backupTargetTags } from "./data-volume-backups";
import type { StackLabels } from "./stack-labels";

export interface DataVolumeArgs {
  labels: StackLabels;
  /** The subnet of the host it attaches to: the volume is created in that subnet's availability zone. */
  subnetId: pulumi.Input<string>;
  /** Size of the gp3 volume in GiB (`dataVolume.sizeGiB`). */
  sizeGiB: pulumi.Input<number>;
  /** Provisioned IOPS (`dataVolume.iops`; gp3's baseline is 3000). */
  iops: pulumi.Input<number>;
  /** Provisioned throughput in MiB/s (`dataVolume.throughputMiBps`; gp3's baseline is 125). */
  throughputMiBps: pulumi.Input<number>;
  /** `protectData`: the volume cannot be deleted by Pulumi and is left in AWS if it ever is (data-protection.ts). */
  protectData: boolean;
}

/**
 * The encrypted gp3 volume holding every service's state (TSDB, silences, Grafana database, WALs, queues). It is a
 * resource of its own, not an instance block device, so replacing the instance never deletes it; the host
 * formats it only when it is blank. In a protected stack it cannot be deleted, and a deletion always takes a final
 * snapshot first. Each host of a pair has its own (TSDBs, WALs and silences are per host); both carry the stack's
 * backup tag, so one snapshot policy covers both.
 */
export class DataVolume extends pulumi.ComponentResource {
  readonly volume: aws.ebs.Volume;
  readonly volumeId: pulumi.Output<string>;

  constructor(name: string, args: DataVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:storage:DataVolume", name, {}, opts);
    const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId }, { parent: this });
    this.volume = new aws.ebs.Volume(
      name,
      {
        availabilityZone: subnet.availabilityZone,
        type: "gp3",
        size: args.sizeGiB,
        iops: args.iops,
        throughput: args.throughputMiBps,
        encrypted: true,
        finalSnapshot: true,
        // The backup tag puts the volume under the daily snapshot policy (DataVolumeBackups).
        tags: { ...resourceTags(args.labels, name), ...backupTargetTags(args.labels) },
      },
      { parent: this, ...dataProtection(args) },
    );
    this.volumeId = this.volume.id;
    this.registerOutputs({ volume: this.volume, volumeId: this.volumeId });
  }
}
