/**
 * The EC2 user data: a small `#cloud-config` (templates/host/user-data.yaml.hbs) that writes bootstrap.env (where the
 * bundle is, which volume holds the data) and the sync script, and runs it once. It depends only on values that
 * do not change with the host's configuration, so a config change never stops or replaces the instance.
 */
import type { StackConfig } from "../config/stack-config";
import { assertNoSecrets } from "./leak-check";
import { BIN_ROOT, CONFIG_ROOT, STATE_DIR, SYNC_USER } from "../layout/host-layout";
import { hostScript, renderTemplate, yamlBlock } from "./templates";
import type { UserDataContext } from "../layout/host-file";
import { AGENT } from "./units";

/** EC2's limit on user data. */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/** The default login user of the Amazon Linux 2023 AMI (cloud-init's `default` user). */
export const AMI_DEFAULT_USER = "ec2-user";

const SAFE_VALUE = /^[A-Za-z0-9._\/:@+-]+$/;

/** bootstrap.env: read by the scripts (sourced) and by the agent units (EnvironmentFile=). */
export function bootstrapEnv(cfg: StackConfig, ctx: UserDataContext): string {
  const vars: Record<string, string> = {
    STACK: cfg.stack,
    ARCHITECTURE: cfg.architecture,
    AWS_REGION: cfg.region,
    AWS_DEFAULT_REGION: cfg.region,
    CONFIG_BUCKET: ctx.configBucket,
    CONFIG_KEY: ctx.configObjectKey,
    DATA_VOLUME_ID: ctx.dataVolumeId,
    STATE_DIR,
    CONFIG_ROOT,
    BIN_ROOT,
    SYNC_USER,
  };
  for (const [k, v] of Object.entries(vars)) {
    // Unquoted so that systemd and the shell read it alike: no value may need quoting.
    if (!SAFE_VALUE.test(v)) throw new Error(`bootstrap.env: ${k}=${JSON.stringify(v)} has characters that would need quoting`);
  }
  return `${Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n")}\n`;
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
    { path: `${CONFIG_ROOT}/bootstrap.env`, owner: "root:root", permissions: "0644", content: bootstrapEnv(cfg, ctx) },
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
