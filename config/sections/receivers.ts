/**
 * `alertReceivers` and their secrets in `alertReceiverSecrets`: who gets which alerts, each receiver's fields for its
 * type, and a secret of the right shape for every receiver that needs one (never echoed in a message).
 */
import { ENCRYPTED } from "../config-source";
import { type ConfigProblems, didYouMean, reportDuplicates, show } from "../config-problems";
import { SecretValue } from "../secret-value";
import type { LoadOptions, Reader } from "../reader";
import { ROUTED_SEVERITIES, type RoutedSeverity } from "../severities";
import { type AlertReceiver, RECEIVER_TYPES, type ReceiverType } from "../stack-config";
import { receiverSecretProblem, ssmSizeProblem } from "../value-checks";

export function readReceivers(
  r: Reader,
  p: ConfigProblems,
  k: (key: string) => string,
  options: LoadOptions,
): AlertReceiver[] {
  const key = k("alertReceivers");
  const raw = r.raw("alertReceivers");
  const secretsKey = k("alertReceiverSecrets");
  const secretsRaw = r.raw("alertReceiverSecrets");
  const secretsEncrypted = secretsRaw === ENCRYPTED;
  let secrets: Record<string, unknown> = {};
  if (secretsRaw !== undefined && !secretsEncrypted) {
    if (!r.isSecret("alertReceiverSecrets")) {
      p.add(secretsKey, "holds receiver credentials but is stored in plain text; set it with `pulumi config set --secret --path`");
    }
    if (typeof secretsRaw !== "object" || secretsRaw === null || Array.isArray(secretsRaw)) {
      p.add(secretsKey, "must be an object mapping receiver name to its secret (webhook URL, routing key or SMTP password)");
    } else {
      secrets = secretsRaw as Record<string, unknown>;
    }
  }
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
    p.add(key, "is empty: alerts would reach nobody; add at least one receiver for severities page and ticket");
    return [];
  }
  if (!Array.isArray(raw)) {
    p.add(key, `must be a list of receivers, got ${show(raw)}`);
    return [];
  }
  const receivers: AlertReceiver[] = [];
  raw.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      p.add(at, `must be an object with name, type and severities, got ${show(item)}`);
      return;
    }
    const o = item as Record<string, unknown>;
    const allowedFields = ["name", "type", "severities", "match", "channel", "to", "from", "smarthost", "authUsername"];
    for (const field of Object.keys(o)) {
      if (!allowedFields.includes(field)) p.add(`${at}.${field}`, `unknown field; allowed: ${allowedFields.join(", ")}${didYouMean(field, allowedFields)}`);
    }
    const name = o.name;
    if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
      p.add(`${at}.name`, `${show(name)} must be lower-case letters, digits and dashes (at most 63)`);
    }
    const type = o.type as ReceiverType;
    if (!RECEIVER_TYPES.includes(type)) p.add(`${at}.type`, `${show(type)} is not allowed; allowed: ${RECEIVER_TYPES.join(", ")}${didYouMean(type, RECEIVER_TYPES)}`);
    const severities = o.severities;
    if (!Array.isArray(severities) || severities.length === 0) {
      p.add(`${at}.severities`, `must be a non-empty list of ${ROUTED_SEVERITIES.join(", ")}`);
    } else {
      severities.forEach((s, j) => {
        if (!ROUTED_SEVERITIES.includes(s)) p.add(`${at}.severities[${j}]`, `${show(s)} is not allowed; allowed: ${ROUTED_SEVERITIES.join(", ")}${didYouMean(s, ROUTED_SEVERITIES)}`);
      });
    }
    const match = readMatch(o.match, `${at}.match`, p);
    const str = (field: string) => (typeof o[field] === "string" ? (o[field] as string) : undefined);
    if (type === "slack" && (o.channel === undefined || o.channel === "")) {
      p.add(`${at}.channel`, `is required for slack receivers (like "#alerts")`);
    } else if (type === "slack" && !/^#?[a-z0-9._-]{1,80}$/.test(str("channel") ?? "")) {
      p.add(`${at}.channel`, `${show(o.channel)} is not a Slack channel name: lower-case letters, digits, ".", "_" and "-", at most 80, optionally after "#" (like "#alerts")`);
    }
    if (type === "email") {
      for (const f of ["to", "from"]) {
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(str(f) ?? "")) p.add(`${at}.${f}`, `${show(o[f])} must be an email address`);
      }
      const port = Number(/:(\d{1,5})$/.exec(str("smarthost") ?? "")?.[1]);
      if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(str("smarthost") ?? "")) {
        p.add(`${at}.smarthost`, `${show(o.smarthost)} must be an SMTP server as host:port (like email-smtp.eu-west-1.amazonaws.com:587)`);
      } else if (!(port >= 1 && port <= 65535)) {
        p.add(`${at}.smarthost`, `${show(o.smarthost)} has port ${port}; allowed: 1 to 65535 (SMTP submission is 587)`);
      }
    }
    if (o.authUsername !== undefined && (typeof o.authUsername !== "string" || o.authUsername === "")) {
      p.add(`${at}.authUsername`, `${show(o.authUsername)} must be the SMTP user name as a non-empty string (quote it in YAML)`);
    } else if (o.authUsername !== undefined && type !== "email" && RECEIVER_TYPES.includes(type)) {
      p.add(`${at}.authUsername`, `is only used by email receivers`);
    }
    // Which receivers need a secret: all but an email receiver without SMTP auth.
    const needsSecret = type !== "email" || str("authUsername") !== undefined;
    let secret: SecretValue | undefined;
    if (typeof name === "string" && needsSecret) {
      const value = secrets[name];
      if (secretsEncrypted || value === ENCRYPTED) {
        secret = new SecretValue(undefined);
      } else if (value === undefined || value === "") {
        if (options.requireSecrets) {
          p.add(
            `${secretsKey}.${name}`,
            `missing required secret for ${type} receiver ${show(name)}; set it with \`pulumi config set --secret --path '${secretsKey}.${name}' <value>\``,
          );
        }
      } else if (typeof value !== "string") {
        p.add(`${secretsKey}.${name}`, "must be a string");
      } else {
        const problem = receiverSecretProblem(type, value) ?? ssmSizeProblem(value);
        if (problem) p.add(`${secretsKey}.${name}`, problem);
        secret = new SecretValue(value);
      }
    }
    receivers.push({
      name: name as string,
      type,
      severities: (Array.isArray(severities) ? severities : []) as RoutedSeverity[],
      ...(match ? { match } : {}),
      channel: str("channel"),
      to: str("to"),
      from: str("from"),
      smarthost: str("smarthost"),
      authUsername: str("authUsername"),
      secret,
    });
  });
  reportDuplicates(p, `${key}[].name`, receivers.map((x) => x.name).filter((n) => typeof n === "string"));
  for (const severity of ["page", "ticket"] as const) {
    if (receivers.length > 0 && !receivers.some((x) => x.severities.includes(severity))) {
      p.add(key, `no receiver takes severity ${show(severity)}: those alerts would reach nobody`);
    }
  }
  const unknownSecrets = Object.keys(secrets).filter((n) => !receivers.some((x) => x.name === n));
  for (const n of unknownSecrets) p.add(`${secretsKey}.${n}`, `names no receiver in alertReceivers`);
  return receivers;
}

/** A receiver's `match`: label names as Prometheus allows them, non-empty string values; `severity` has its own field. */
function readMatch(raw: unknown, at: string, p: ConfigProblems): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    p.add(at, `must be a non-empty object of alert label to value (like {team: billing}), got ${show(raw)}`);
    return undefined;
  }
  const match: Record<string, string> = {};
  for (const [label, value] of Object.entries(raw)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label) || label.startsWith("__")) {
      p.add(`${at}.${label}`, "is not a Prometheus label name (letters, digits, underscores; not starting with a digit or __)");
    } else if (label === "severity") {
      p.add(`${at}.${label}`, "cannot be matched here; list the receiver's severities in its `severities` field");
    } else if (typeof value !== "string" || value === "") {
      p.add(`${at}.${label}`, `${show(value)} must be a non-empty string (the label value to match exactly)`);
    } else {
      match[label] = value;
    }
  }
  return match;
}
