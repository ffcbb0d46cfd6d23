/**
 * Checks of single values, as pure functions: each returns why a value is not allowed (a message part naming what is
 * allowed, never echoing a secret), or undefined when it is fine. The section readers (config/sections/) and the
 * Reader call them and file the problem under the key.
 */
import { Address4, Address6 } from "ip-address";
import { show } from "./config-problems";
import { SSM_STANDARD_VALUE_MAX_BYTES } from "./limits";
import type { ReceiverType } from "./stack-config";
import { SERVICES, SYNC_USER } from "../layout/host-layout";

/** Why a host secret would not fit a standard SSM parameter, or undefined; the value itself is never shown. */
export function ssmSizeProblem(v: string): string | undefined {
  return Buffer.byteLength(v, "utf8") > SSM_STANDARD_VALUE_MAX_BYTES
    ? `is ${Buffer.byteLength(v, "utf8")} bytes; SSM Parameter Store holds at most ${SSM_STANDARD_VALUE_MAX_BYTES} (value not shown)`
    : undefined;
}

/**
 * Login users that break the host: root cannot log in (`PermitRootLogin no`), and a service user would get
 * NOPASSWD sudo and own that service's data.
 */
export const FORBIDDEN_SSH_USERS = ["root", ...Object.values(SERVICES).map((s) => s.user), SYNC_USER];

/** AMP workspace ids (API reference, DescribeWorkspace: 1 to 64 characters, `[0-9A-Za-z][-.0-9A-Z_a-z]*`). */
export const AMP_WORKSPACE_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]{0,63}$/;

/** An application name in `otlpClients`: it becomes a certificate's common name and an SSM parameter path segment. */
export const OTLP_CLIENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * A URL that cannot be anyone's real site: the reserved example domains and TLDs (RFC 2606/6761), or a path naming
 * an example organisation or a placeholder (what the project's own documentation shows).
 */
export function isPlaceholderUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const host = u.hostname.toLowerCase();
  return (
    /(^|\.)example\.(com|org|net)$/.test(host) ||
    /\.(example|invalid|test|localhost)$/.test(host) ||
    /(^|[/.-])(example-org|your-org|placeholder)([/.-]|$)/i.test(u.pathname + "/" + host)
  );
}

/** Instance sizes with too little memory for six services. */
export const TOO_SMALL_SIZES: readonly string[] = ["nano", "micro", "small"];

/** Graviton families: a digit, then `g` (t4g, m7g, m7gd, c6gn, im4gn, is4gen, g5g), plus the first-generation a1. */
export function isGravitonFamily(family: string): boolean {
  return family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(family);
}

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** Returns why `line` is not an OpenSSH public key line, or undefined when it is one. */
export function sshPublicKeyProblem(line: string): string | undefined {
  // authorized_keys is one key per line: a newline inside one entry would install two keys (or a broken one).
  if (/[\r\n]/.test(line)) return "contains a line break; list each key as its own entry";
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(line)) return "contains a control character";
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return "is not an OpenSSH public key (expected `<type> <base64> [comment]`)";
  const [type, blob] = parts;
  if (!SSH_KEY_TYPES.includes(type)) return `has key type ${show(type)}; allowed: ${SSH_KEY_TYPES.join(", ")}`;
  if (!/^[A-Za-z0-9+/]+={0,3}$/.test(blob)) return "has a key body that is not base64";
  const bytes = Buffer.from(blob, "base64");
  if (bytes.length < 4) return "has a key body that is too short";
  const len = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + len).toString("latin1");
  if (inner !== type) return `says ${type} but its key body encodes ${show(inner)} (was the key truncated or pasted wrongly?)`;
  if (type === "ssh-rsa" && bytes.length < 270) return "is an RSA key shorter than 2048 bits";
  return undefined;
}

/**
 * Why `cidr` may not be used as an ingress source, or undefined when it may. World-open and very broad ranges
 * are refused: the host must never be reachable from the internet (Security Hub EC2.19).
 */
export function cidrProblem(cidr: string): string | undefined {
  if (!cidr.includes("/")) return "has no prefix length; write it as a CIDR like 10.20.0.0/16 (or 10.20.0.5/32 for one host)";
  const v6 = cidr.includes(":");
  if (v6 ? !Address6.isValid(cidr) : !Address4.isValid(cidr)) return `is not a valid ${v6 ? "IPv6" : "IPv4"} CIDR`;
  const addr = v6 ? new Address6(cidr) : new Address4(cidr);
  const min = v6 ? 32 : 8;
  if (addr.subnetMask === 0) return "opens the port to the whole internet; list your own networks instead";
  if (addr.subnetMask < min) return `is broader than /${min}; list your own networks instead`;
  const network = addr.startAddress().correctForm();
  const given = v6 ? new Address6(addr.addressMinusSuffix).correctForm() : addr.addressMinusSuffix;
  if (network !== given) return `has host bits set; the network is ${network}/${addr.subnetMask}`;
  return undefined;
}

/** Checks the shape of a receiver secret without ever echoing it. */
export function receiverSecretProblem(type: ReceiverType, value: string): string | undefined {
  if (type === "slack" && !/^https:\/\/hooks\.slack\.com\/\S+$/.test(value)) return "must be a Slack incoming-webhook URL (https://hooks.slack.com/...); value not shown";
  if (type === "webhook" && !/^https:\/\/\S+$/.test(value)) return "must be an https:// URL; value not shown";
  if (type === "pagerduty" && !/^[A-Za-z0-9]{32}$/.test(value)) return "must be a 32-character PagerDuty Events API v2 routing key; value not shown";
  return undefined;
}

/**
 * Prometheus expands alert labels and annotations as Go templates: a `{{` in a value that lands there (description,
 * route, pool, routing labels) makes the rule file fail to load.
 */
export function templateProblem(v: string): string | undefined {
  return v.includes("{{") ? `contains "{{", which Prometheus reads as the start of a template in alert labels and annotations (the rule file would not load)` : undefined;
}
