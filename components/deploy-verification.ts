import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { AccessMode } from "../config/stack-config";
import { HEALTH_SCRIPT } from "../hostfiles/health-checks";

export interface DeployVerificationArgs {
  /** How the laptop reaches the host (`accessMode`): SSM Run Command, or ssh as `sshUser` to `privateIp`. */
  accessMode: AccessMode;
  sshUser: string;
  /** The stack's region (SSM's endpoint). */
  region: string;
  /** The host checked: its instance (SSM target) and private address (ssh). */
  instanceId: pulumi.Input<string>;
  privateIp: pulumi.Input<string>;
  /** ETag of the uploaded config bundle: a new bundle (any config change) re-runs the check. */
  bundleEtag: pulumi.Input<string>;
  /** The stack's automation key (secret), for ssh mode. */
  automationPrivateKey: pulumi.Input<string>;
  /** Resources the check waits for (the volume attachment: services need the data volume). */
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

/** How long the host may take to apply a bundle and get every service ready (first boot downloads releases). */
export const VERIFY_TIMEOUT_SECONDS = 900;
export const VERIFY_SCRIPT = path.join(__dirname, "..", "scripts", "verify-deploy.sh");

/**
 * Makes `pulumi up` prove the host works: after the host is created or its config bundle changes, the host applies
 * the new bundle at once (no waiting for the poll timer), reloads what changed, and checks every service's health
 * endpoint and the loaded rules. A failure fails the deploy with the service's name and journal tail.
 * Runs from the laptop through SSM Run Command (default) or ssh; `verifyDeploy: false` turns it off for networks
 * where the laptop cannot reach the host.
 */
export class DeployVerification extends pulumi.ComponentResource {
  readonly check: command.local.Command;

  constructor(name: string, args: DeployVerificationArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:operations:DeployVerification", name, {}, opts);
    const ssh = args.accessMode === "ssh";
    this.check = new command.local.Command(
      name,
      {
        create: `bash ${JSON.stringify(VERIFY_SCRIPT)}`,
        // Same command on update: the triggers decide when it runs again.
        triggers: [args.instanceId, args.bundleEtag],
        environment: {
          MODE: args.accessMode,
          REGION: args.region,
          INSTANCE_ID: args.instanceId,
          EXPECT_ETAG: args.bundleEtag,
          TIMEOUT: String(VERIFY_TIMEOUT_SECONDS),
          HEALTH_SCRIPT,
          ...(ssh
            ? { SSH_USER: args.sshUser, SSH_HOST: args.privateIp, SSH_PRIVATE_KEY: pulumi.secret(args.automationPrivateKey) }
            : {}),
        },
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: args.dependsOn },
    );
    this.registerOutputs({ check: this.check, report: this.check.stdout });
  }
}
