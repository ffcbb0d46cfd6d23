/**
 * The systemd unit model of the host: a typed `ServiceUnitSpec` rendered to unit-file text (systemd/service.hbs)
 * with the sandbox every unit gets, plus the helpers units are built with (IMDS cut out of an address allow-list,
 * `StateDirectory=` names, systemd path escaping). No stack config: which units exist is units.ts.
 */
import { Address4, Address6 } from "ip-address";
import { renderTemplate, SYSTEMD_DIR } from "./templates";

/** Where unit files are installed on the host. */
export const UNIT_DIR = "/etc/systemd/system";

/** The instance metadata service (IPv4, and the IPv6 endpoint of Nitro instances). */
export const IMDS_ADDRESSES = ["169.254.169.254", "fd00:ec2::254"] as const;

/**
 * An allow-list with the IMDS addresses cut out. systemd lets IPAddressAllow= win over IPAddressDeny=, so a listed
 * network that contains an IMDS address is replaced by the prefixes around that address.
 */
export function withoutImds(cidrs: string[]): string[] {
  return cidrs.flatMap((cidr) => {
    const v6 = cidr.includes(":");
    const Address = v6 ? Address6 : Address4;
    const bits = v6 ? 128 : 32;
    const net = new Address(cidr);
    const imds = IMDS_ADDRESSES.filter((a) => a.includes(":") === v6)
      .map((a) => new Address(a))
      .find((a) => a.isInSubnet(net as never));
    if (!imds) return [cidr];
    const target = imds.bigInt();
    let start = net.startAddress().bigInt();
    // Walk from the network down to the single address: at each level keep the half that does not hold IMDS.
    const parts: string[] = [];
    for (let len = net.subnetMask + 1; len <= bits; len++) {
      const half = 1n << BigInt(bits - len);
      const imdsInUpper = target >= start + half;
      const kept = Address.fromBigInt(imdsInUpper ? start : start + half);
      parts.push(`${v6 ? (kept as Address6).correctForm() : kept.address}/${len}`);
      if (imdsInUpper) start += half;
    }
    return parts;
  });
}

/** Settings every unit gets: the sandbox. Units add only what they need on top (network, writable paths). */
const SANDBOX: [string, string][] = [
  ["NoNewPrivileges", "yes"],
  ["ProtectSystem", "strict"],
  ["ProtectHome", "yes"],
  ["PrivateTmp", "yes"],
  ["ProtectHostname", "yes"],
  ["ProtectClock", "yes"],
  ["ProtectKernelTunables", "yes"],
  ["ProtectKernelModules", "yes"],
  ["ProtectKernelLogs", "yes"],
  ["ProtectControlGroups", "yes"],
  ["RestrictNamespaces", "yes"],
  ["LockPersonality", "yes"],
  ["MemoryDenyWriteExecute", "yes"],
  ["RestrictRealtime", "yes"],
  ["RestrictSUIDSGID", "yes"],
  ["SystemCallArchitectures", "native"],
  ["SystemCallFilter", "@system-service"],
  ["SystemCallFilter", "~@privileged @resources"],
  ["SystemCallErrorNumber", "EPERM"],
  ["KeyringMode", "private"],
  ["UMask", "0077"],
];

export interface ServiceUnitSpec {
  name: string;
  description: string;
  documentation?: string;
  type: "simple" | "oneshot" | "exec";
  /** Unprivileged user, or `dynamic` (DynamicUser=yes), or `root` (only the apply step). */
  user: string | "dynamic" | "root";
  execStart: string[][];
  execReload?: string;
  /** Ordering and dependencies. */
  after?: string[];
  wants?: string[];
  requires?: string[];
  requiresMountsFor?: string[];
  /**
   * Which addresses it may talk to: loopback only, loopback plus some networks (`{ allow: [cidr…] }`), any (S3, SSM,
   * receivers; the security group's egress rules still apply), or no network at all.
   */
  network: "loopback" | "any" | "none" | { allow: string[] };
  /**
   * Needs the instance role's credentials, which only the instance metadata service hands out. Every other unit
   * is denied IMDS at the socket level (docs/security.md): the role reads every secret of the stack and deletes
   * telemetry objects.
   */
  imds?: boolean;
  readWritePaths?: string[];
  credentials?: { name: string; source: string }[];
  environmentFiles?: string[];
  environment?: Record<string, string>;
  runtimeDirectory?: string;
  /**
   * Data directory below /var/lib (StateDirectory=): systemd creates it at start, makes it writable under
   * ProtectSystem=strict and, when its top directory is owned by anyone else (a replaced host's uids on the same
   * data volume), chowns the whole tree to the unit's user.
   */
  stateDirectory?: string;
  /** Extra [Service] settings and overrides of the sandbox (same key replaces it). */
  extra?: [string, string][];
  /** Capabilities kept (empty: none). */
  capabilities?: string[];
  restart?: "on-failure" | "no";
  remainAfterExit?: boolean;
  wantedBy?: string;
  limitNofile?: number;
  timeoutStartSec?: string;
}

/** Quotes one ExecStart word: `%` and `$` are unit-file specifiers/variables, whitespace needs quotes. */
export function execWord(word: string): string {
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (escaped === "" || /[\s"'\\;]/.test(escaped)) return `"${escaped.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return escaped;
}

/** First line of the monitoring host's unit files. */
export const HOST_UNIT_HEADER = "Generated from systemd/service.hbs by hostfiles/units.ts; do not edit on the host (the next bundle overwrites it).";

export function renderServiceUnit(u: ServiceUnitSpec, header: string = HOST_UNIT_HEADER): string {
  const unit: [string, string][] = [["Description", u.description]];
  if (u.documentation) unit.push(["Documentation", u.documentation]);
  for (const w of u.wants ?? []) unit.push(["Wants", w]);
  for (const r of u.requires ?? []) unit.push(["Requires", r]);
  for (const a of u.after ?? []) unit.push(["After", a]);
  for (const m of u.requiresMountsFor ?? []) unit.push(["RequiresMountsFor", m]);

  const svc: [string, string][] = [["Type", u.type]];
  if (u.user === "dynamic") svc.push(["DynamicUser", "yes"]);
  else if (u.user !== "root") svc.push(["User", u.user], ["Group", u.user]);
  for (const f of u.environmentFiles ?? []) svc.push(["EnvironmentFile", f]);
  for (const [k, v] of Object.entries(u.environment ?? {})) svc.push(["Environment", `${k}=${v}`]);
  for (const cmd of u.execStart) svc.push(["ExecStart", cmd.map(execWord).join(" ")]);
  if (u.execReload) svc.push(["ExecReload", u.execReload]);
  if (u.remainAfterExit) svc.push(["RemainAfterExit", "yes"]);
  if (u.restart && u.restart !== "no") svc.push(["Restart", u.restart], ["RestartSec", "5s"]);
  if (u.limitNofile) svc.push(["LimitNOFILE", String(u.limitNofile)]);
  if (u.timeoutStartSec) svc.push(["TimeoutStartSec", u.timeoutStartSec]);
  if (u.runtimeDirectory) svc.push(["RuntimeDirectory", u.runtimeDirectory], ["RuntimeDirectoryMode", "0700"]);
  if (u.stateDirectory) svc.push(["StateDirectory", stateDirectoryName(u.stateDirectory)], ["StateDirectoryMode", "0750"]);
  for (const c of u.credentials ?? []) svc.push(["LoadCredential", `${c.name}:${c.source}`]);

  const sandbox: [string, string][] = [...SANDBOX];
  if (u.user !== "root") {
    sandbox.push(["PrivateDevices", "yes"], ["ProtectProc", "invisible"], ["ProcSubset", "pid"], ["RemoveIPC", "yes"]);
  }
  sandbox.push(["CapabilityBoundingSet", (u.capabilities ?? []).join(" ")], ["AmbientCapabilities", ""]);
  if (u.network === "none") {
    sandbox.push(["PrivateNetwork", "yes"], ["RestrictAddressFamilies", "AF_UNIX"]);
  } else {
    sandbox.push(["RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"]);
    if (u.network === "loopback") sandbox.push(["IPAddressDeny", "any"], ["IPAddressAllow", "localhost"]);
    else if (typeof u.network === "object") {
      const allow = u.imds ? u.network.allow : withoutImds(u.network.allow);
      sandbox.push(["IPAddressDeny", "any"], ["IPAddressAllow", ["localhost", ...allow].join(" ")]);
    } else if (!u.imds) sandbox.push(["IPAddressDeny", IMDS_ADDRESSES.join(" ")]);
  }
  for (const p of u.readWritePaths ?? []) sandbox.push(["ReadWritePaths", p]);
  // A unit's own settings replace the sandbox default of the same key (e.g. node_exporter's /proc access).
  const overridden = new Set((u.extra ?? []).map(([k]) => k));
  const merged = [...sandbox.filter(([k]) => !overridden.has(k)), ...(u.extra ?? [])];

  return renderTemplate("service.hbs", { header, unit, service: svc, sandbox: merged, wantedBy: u.wantedBy ?? "" }, SYSTEMD_DIR);
}

/** StateDirectory= takes a path relative to /var/lib; every data directory lives there (DATA_MOUNT). */
export function stateDirectoryName(dir: string): string {
  if (!dir.startsWith("/var/lib/")) throw new Error(`data directory ${dir} is not below /var/lib, so StateDirectory= cannot manage it`);
  return dir.slice("/var/lib/".length);
}


/**
 * systemd's name for a path (`systemd-escape --path`): slashes become dashes, and every byte but ASCII letters,
 * digits, `:`, `_` and a non-leading `.` becomes `\xNN`.
 */
export function systemdEscapePath(p: string, suffix: string): string {
  const trimmed = p.split("/").filter(Boolean).join("/");
  if (!trimmed) return `-.${suffix}`;
  const escaped = [...Buffer.from(trimmed, "utf8")]
    .map((b, i) => {
      const c = String.fromCharCode(b);
      if (c === "/") return "-";
      if (/[A-Za-z0-9:_]/.test(c) || (c === "." && i > 0)) return c;
      return `\\x${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
  return `${escaped}.${suffix}`;
}
