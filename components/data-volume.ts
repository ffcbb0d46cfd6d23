import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "../config/stack-config";
import { dataProtection } from "./data-protection";
import { resourceTags } from "../config/tags";
import { backupTargetTags } from "./data-volume-backups";

export interface DataVolumeArgs {
  config: StackConfig;
  /** The subnet of the host it attaches to (its zone is the volume's); default `subnetId`, the first host's. */
  subnetId?: pulumi.Input<string>;
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
    const cfg = args.config;
    const subnet = aws.ec2.getSubnetOutput({ id: args.subnetId ?? cfg.subnetId }, { parent: this });
    this.volume = new aws.ebs.Volume(
      name,
      {
        availabilityZone: subnet.availabilityZone,
        type: "gp3",
        size: cfg.dataVolume.sizeGiB,
        iops: cfg.dataVolume.iops,
        throughput: cfg.dataVolume.throughputMiBps,
        encrypted: true,
        finalSnapshot: true,
        // The backup tag puts the volume under the daily snapshot policy (DataVolumeBackups).
        tags: { ...resourceTags(cfg, name), ...backupTargetTags(cfg) },
      },
      { parent: this, ...dataProtection(cfg) },
    );
    this.volumeId = this.volume.id;
    this.registerOutputs({ volumeId: this.volumeId });
  }
}
