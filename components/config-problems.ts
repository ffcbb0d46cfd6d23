/**
 * Collects every configuration mistake before anything is created, so the user fixes them in one go
 * (like pulumi-eks's InputPropertiesError). Each problem names the config key.
 */
export interface ConfigProblem {
  /** Fully qualified key, with a path into structured values: `monitoring-hosts:alertReceivers[1].type`. */
  key: string;
  message: string;
}

export class ConfigProblems {
  readonly items: ConfigProblem[] = [];

  add(key: string, message: string): void {
    this.items.push({ key, message });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  throwIfAny(stack: string): void {
    if (!this.empty) throw new ConfigError(stack, this.items);
  }
}

export class ConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `Stack "${stack}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n") +
        `\nFix them with \`pulumi config set <key> <value> --stack ${stack}\` (or edit Pulumi.${stack}.yaml); ` +
        "docs/configuration.md describes every key.",
    );
    this.name = "ConfigError";
  }
}

/** Renders a user-supplied value for an error message without dumping huge or structured blobs. */
export function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * A secret read from config. Its text is only reachable through `reveal()`; printing or serialising it shows
 * a marker, so a secret cannot end up in a log line or an error message by accident.
 */
export class SecretValue {
  readonly #value: string | undefined;

  /** `undefined` means: present in the stack but encrypted and not readable here (offline render). */
  constructor(value: string | undefined) {
    this.#value = value;
  }

  get readable(): boolean {
    return this.#value !== undefined;
  }

  reveal(): string {
    if (this.#value === undefined) throw new Error("secret value is not readable here (encrypted in the stack file)");
    return this.#value;
  }

  toString(): string {
    return "[secret]";
  }

  toJSON(): string {
    return "[secret]";
  }
}
