import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { Architecture } from "../config/stack-config";
import { DATA_DEVICE_NAME } from "../layout/host-layout";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface MonitoringHostArgs {
  labels: StackLabels;
  /** CPU architecture (`architecture`): picks the AMI; a change replaces the instance. */
  architecture: Architecture;
  /** EC2 instance type of that architecture (`instanceType`). */
  instanceType: pulumi.Input<string>;
  /** Size of the encrypted root volume in GiB (`rootVolumeSizeGiB`; it holds no state). */
  rootVolumeSizeGiB: pulumi.Input<number>;
  /** The stable network interface (security group attached) that becomes the instance's primary interface. */
  networkInterfaceId: pulumi.Input<string>;
  /** The instance profile of the host's role (HostIdentity). */
  instanceProfileName: pulumi.Input<string>;
  /** The data volume, attached as DATA_DEVICE_NAME; never created or deleted by this component. */
  dataVolumeId: pulumi.Input<string>;
  /** cloud-init user data (small: it fetches the config bundle). */
  userData: pulumi.Input<string>;
  /** Resources that must exist before the instance boots (the config bundle, the secret parameters). */
  bootDependencies: pulumi.Input<pulumi.Resource>[];
}

/** Public SSM parameter holding the current Amazon Linux 2023 AMI id for an architecture. */
export function amiParameterName(architecture: Architecture): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`;
}

/**
 * The EC2 instance running the monitoring services. Amazon Linux 2023 (SSM agent and AWS CLI preinstalled),
 * IMDSv2 only with hop limit 1 (Security Hub EC2.8), encrypted root volume holding no state.
 *
 * The AMI is looked up at deploy time but changes to it are ignored: a new AMI release does not replace the host
 * behind your back. Replace it deliberately (docs/operations.md); the data volume and network interface survive.
 * Changing `architecture` (with a matching instance type) replaces the instance with one of the new architecture.
 */
export class MonitoringHost extends pulumi.ComponentResource {
  readonly instance: aws.ec2.Instance;
  readonly attachment: aws.ec2.VolumeAttachment;
  readonly instanceId: pulumi.Output<string>;

  constructor(name: string, args: MonitoringHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:compute:MonitoringHost", name, {}, opts);
    const ami = aws.ssm.getParameterOutput({ name: amiParameterName(args.architecture) }, { parent: this });

    this.instance = new aws.ec2.Instance(
      name,
      {
        ami: ami.value,
        instanceType: args.instanceType,
        iamInstanceProfile: args.instanceProfileName,
        primaryNetworkInterface: { networkInterfaceId: args.networkInterfaceId },
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          httpPutResponseHopLimit: 1,
          instanceMetadataTags: "disabled",
        },
        rootBlockDevice: {
          encrypted: true,
          volumeType: "gp3",
          volumeSize: args.rootVolumeSizeGiB,
          deleteOnTermination: true,
          tags: resourceTags(args.labels, `${name}-root`),
        },
        userData: args.userData,
        // User data only bootstraps; later changes arrive through the config bundle. Never replace for it.
        userDataReplaceOnChange: false,
        monitoring: true,
        tags: resourceTags(args.labels, name),
      },
      {
        parent: this,
        dependsOn: args.bootDependencies,
        // A new AMI release must not replace the host, so the AMI is ignored after creation. An architecture change
        // must replace it, though: an x86_64 AMI cannot boot on an arm64 type (and the bundle would install the
        // other architecture's binaries). The engine replaces the resource when this value differs from the one
        // recorded at the last deploy (replacementTrigger; unset-to-set does not replace). The data volume and the
        // network interface are separate resources and move to the new instance.
        ignoreChanges: ["ami"],
        replacementTrigger: args.architecture,
        // The network interface and the data volume attach to one instance at a time: the old host must be
        // gone before its replacement can take them over.
        deleteBeforeReplace: true,
      },
    );
    this.instanceId = this.instance.id;

    this.attachment = new aws.ec2.VolumeAttachment(
      name,
      {
        instanceId: this.instance.id,
        volumeId: args.dataVolumeId,
        deviceName: DATA_DEVICE_NAME,
        // Stop the instance before detaching (host replacement): the filesystem is unmounted cleanly.
        stopInstanceBeforeDetaching: true,
      },
      { parent: this },
    );

    this.registerOutputs({ instance: this.instance, attachment: this.attachment, instanceId: this.instanceId });
  }
}
