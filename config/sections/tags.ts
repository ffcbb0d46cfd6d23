/** `tags`: extra AWS tags for every resource, within AWS's tag rules and without overriding the program's own. */
import { type ConfigProblems, show } from "../config-problems";
import type { Reader } from "../reader";
import { MAX_EXTRA_TAGS, PROGRAM_TAG_KEYS, PROGRAM_TAG_PREFIX } from "../tags";

export function readTags(r: Reader, p: ConfigProblems, k: (key: string) => string): Record<string, string> {
  const raw = r.raw("tags");
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    p.add(k("tags"), `must be an object of tag name to value, got ${show(raw)}`);
    return {};
  }
  const tags: Record<string, string> = {};
  // AWS tag rules (Billing user guide, "User-defined tag restrictions", and the per-service tag docs): keys 1-128 and values 0-256
  // characters, letters, digits, spaces and + - = . _ : / @ (the set every service accepts), no aws: prefix.
  const allowedChars = /^[\p{L}\p{N} +\-=._:/@]*$/u;
  const chars = "letters, digits, spaces and + - = . _ : / @";
  for (const [name, value] of Object.entries(raw)) {
    const at = `${k("tags")}.${name}`;
    if ((PROGRAM_TAG_KEYS as readonly string[]).includes(name) || name.startsWith(PROGRAM_TAG_PREFIX)) {
      p.add(at, `is set by the program itself and cannot be overridden; reserved: ${PROGRAM_TAG_KEYS.join(", ")} and keys starting with ${PROGRAM_TAG_PREFIX}`);
    } else if (name.toLowerCase().startsWith("aws:")) {
      p.add(at, "starts with aws:, which AWS reserves for its own tags");
    } else if ([...name].length > 128 || !allowedChars.test(name) || name.trim() === "") {
      p.add(at, `is not a valid tag key: 1 to 128 characters, ${chars}`);
    } else if (typeof value !== "string") {
      p.add(at, `${show(value)} must be a string (quote numbers and booleans in YAML)`);
    } else if ([...value].length > 256 || !allowedChars.test(value)) {
      p.add(at, `${show(value)} is not a valid tag value: at most 256 characters, ${chars}`);
    } else {
      tags[name] = value;
    }
  }
  if (Object.keys(raw).length > MAX_EXTRA_TAGS) {
    p.add(
      k("tags"),
      `has ${Object.keys(raw).length} tags; at most ${MAX_EXTRA_TAGS}: AWS allows 50 per resource and the data volume's snapshots carry ${50 - MAX_EXTRA_TAGS} of the program's own (${PROGRAM_TAG_KEYS.join(", ")} and two ${PROGRAM_TAG_PREFIX} tags)`,
    );
  }
  return tags;
}
