/**
 * The EC2 user data: a small `#cloud-config` (templates/host/user-data.yaml.hbs) that writes bootstrap.json (where
 * the bundle is, which volume holds the data), the data volume's mount unit and the sync script, and runs it at
 * boot until a bundle is applied. It depends only on values that
 * do not change with the host's configuration, so a config change never stops or replaces the instance.
 */
import type { StackConfig } from "../config/stack-config";
import { assertNoSecrets } from "./leak-check";
import { AGENT, BIN_ROOT, CONFIG_ROOT, dataVolumeDevice, STATE_DIR, SYNC_USER } from "../layout/host-layout";
import { hostScript, renderTemplate, yamlBlock } from "./templates";
import type { UserDataContext } from "../layout/host-file";
import { DATA_MOUNT_UNIT, dataVolumeUnits } from "./data-volume-units";

/** EC2's limit on user data. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/** The default login user of the Amazon Linux 2023 AMI (cloud-init's `default` user). */
export const AMI_DEFAULT_USER = "ec2-user";

/** Where user data puts the host's bootstrap settings; the agent's scripts read them with jq. */
export const BOOTSTRAP_JSON = `${CONFIG_ROOT}/bootstrap.json`;

/** bootstrap.json: what the host must know before it has a bundle, all stable for the life of the instance. */
export function bootstrapSettings(cfg: StackConfig, ctx: UserDataContext): Record<string, string> {
  return {
    stack: cfg.stack,
    architecture: cfg.architecture,
    region: cfg.region,
    configBucket: ctx.configBucket,
    configKey: ctx.configObjectKey,
    dataVolumeId: ctx.dataVolumeId,
    dataDevice: dataVolumeDevice(ctx.dataVolumeId),
    dataMountUnit: DATA_MOUNT_UNIT,
    stateDir: STATE_DIR,
    configRoot: CONFIG_ROOT,
    binRoot: BIN_ROOT,
    syncUser: SYNC_USER,
  };
}

/**
 * cloud-config for a login user other than the AMI's default one. Its ssh keys are NOT here: they travel in the
 * config bundle (hostfiles/ssh-access.ts), so rotating a key never changes user data.
 */
function accessBlock(cfg: StackConfig): string {
  if (cfg.access.sshUser === AMI_DEFAULT_USER) return "";
  return yamlBlock({
    users: ["default", { name: cfg.access.sshUser, shell: "/bin/bash", sudo: "ALL=(ALL) NOPASSWD:ALL", lock_passwd: true }],
  });
}

/** cloud-init runs the scripts in this directory at every boot: the bootstrap retries until one bundle is applied. */
export const PER_BOOT_BOOTSTRAP = "/var/lib/cloud/scripts/per-boot/50-monitoring-bootstrap";

/**
 * Distribution packages installed at first boot: the tools the runbooks' copy-paste commands use (jq for the
 * Prometheus/Alertmanager APIs) that Amazon Linux 2023 does not ship by default.
 */
export const HOST_PACKAGES = ["jq"];

export function renderUserData(cfg: StackConfig, ctx: UserDataContext): string {
  const files = yamlBlock([
    { path: BOOTSTRAP_JSON, owner: "root:root", permissions: "0644", content: `${JSON.stringify(bootstrapSettings(cfg, ctx))}\n` },
    ...dataVolumeUnits(ctx.dataVolumeId).map((u) => ({ ...u, owner: "root:root", permissions: "0644" })),
    { path: AGENT.syncScript, owner: "root:root", permissions: "0755", content: hostScript("monitoring-sync.sh") },
    {
      path: PER_BOOT_BOOTSTRAP,
      owner: "root:root",
      permissions: "0755",
      content: renderTemplate("host/per-boot-bootstrap.sh.hbs", { appliedMarker: AGENT.appliedMarker, syncScript: AGENT.syncScript }),
    },
  ]);
  const text = renderTemplate("host/user-data.yaml.hbs", {
    project: cfg.project,
    stack: cfg.stack,
    access: accessBlock(cfg),
    packages: yamlBlock({ packages: HOST_PACKAGES }),
    files,
  });
  assertNoSecrets(cfg, text, "user data");
  const size = Buffer.byteLength(text, "utf8");
  if (size > USER_DATA_LIMIT_BYTES) throw new Error(`user data is ${size} bytes, over EC2's ${USER_DATA_LIMIT_BYTES}-byte limit`);
  return text;
}
