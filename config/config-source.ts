/**
 * Where stack configuration comes from.
 *
 * The loader (`config/loader.ts`) reads through this interface so the same validation runs under `pulumi up` (values
 * from the Pulumi engine) and offline (`npm run render`, tests: values from `Pulumi.yaml` defaults plus
 * `Pulumi.<stack>.yaml`, no CLI and no credentials needed).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/** A value that is stored as a secret but cannot be decrypted here (offline render of a committed stack file). */
export const ENCRYPTED = Symbol("encrypted secret");

export interface ConfigSource {
  /** Name of the Pulumi project (the config namespace of this program's own keys). */
  readonly project: string;
  /** Name of the stack, e.g. `dev`. */
  readonly stack: string;
  /**
   * The value of a fully qualified key (`<namespace>:<key>`): strings, numbers, booleans, arrays and objects
   * as written; `undefined` when unset; `ENCRYPTED` for a secret that is present but not readable here.
   */
  get(fullKey: string): unknown;
  /** Whether the key is stored as a secret. */
  isSecret(fullKey: string): boolean;
  /** Every key set for this stack (fully qualified), to catch typos. */
  keys(): string[];
}

/** Reads config the way the Pulumi engine hands it to the program. */
export class PulumiConfigSource implements ConfigSource {
  constructor(
    readonly project: string,
    readonly stack: string,
    private readonly runtime: {
      allConfig(): Record<string, string>;
      isConfigSecret(k: string): boolean;
    },
  ) {}

  get(fullKey: string): unknown {
    const raw = this.runtime.allConfig()[fullKey];
    if (raw === undefined) return undefined;
    // The engine passes structured values (arrays, objects) as JSON text; scalars as plain text.
    const trimmed = raw.trim();
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      try {
        return JSON.parse(trimmed);
      } catch {
        return raw;
      }
    }
    return raw;
  }

  isSecret(fullKey: string): boolean {
    return this.runtime.isConfigSecret(fullKey);
  }

  keys(): string[] {
    return Object.keys(this.runtime.allConfig());
  }
}

interface ProjectFile {
  name: string;
  config?: Record<string, { default?: unknown; secret?: boolean } | unknown>;
}

/**
 * Reads `Pulumi.yaml` (its `config:` defaults) and `Pulumi.<stack>.yaml` from a directory, as the CLI would.
 * Secrets stored in the stack file (`secure: …`) read as `ENCRYPTED`; `overrides` (tests) may supply values.
 */
export class FileConfigSource implements ConfigSource {
  readonly project: string;
  private readonly values = new Map<string, unknown>();
  private readonly secrets = new Set<string>();
  private readonly setKeys = new Set<string>();

  constructor(
    readonly stack: string,
    dir: string = path.resolve(__dirname, ".."),
    overrides: Record<string, unknown> = {},
    secretOverrides: Record<string, unknown> = {},
  ) {
    const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as ProjectFile;
    this.project = project.name;
    for (const [key, decl] of Object.entries(project.config ?? {})) {
      const full = key.includes(":") ? key : `${this.project}:${key}`;
      if (decl && typeof decl === "object" && "default" in decl) this.values.set(full, (decl as { default: unknown }).default);
    }
    const stackFile = path.join(dir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(stackFile)) {
      throw new Error(`No stack file ${stackFile}: the stacks of this project are ${listStacks(dir).join(", ")}`);
    }
    const stackDoc = (YAML.parse(fs.readFileSync(stackFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    for (const [key, value] of Object.entries(stackDoc.config ?? {})) this.setFromFile(key, value);
    for (const [key, value] of Object.entries(overrides)) this.set(key, value, false);
    for (const [key, value] of Object.entries(secretOverrides)) this.set(key, value, true);
  }

  /**
   * A secret is `{secure: …}` in the stack file: the whole value (`pulumi config set --secret`) or a leaf of an
   * object (`--secret --path`). Either way it reads as ENCRYPTED here and marks its key secret, as the engine does.
   */
  private setFromFile(key: string, value: unknown): void {
    let secret = false;
    const walk = (v: unknown): unknown => {
      if (v && typeof v === "object" && !Array.isArray(v) && "secure" in v && Object.keys(v).length === 1) {
        secret = true;
        return ENCRYPTED;
      }
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    const decoded = walk(value);
    this.set(key, decoded, secret);
  }

  private set(key: string, value: unknown, secret: boolean): void {
    const full = key.includes(":") ? key : `${this.project}:${key}`;
    if (value === undefined) {
      this.values.delete(full);
      this.setKeys.delete(full);
      return;
    }
    this.values.set(full, value);
    this.setKeys.add(full);
    if (secret) this.secrets.add(full);
  }

  get(fullKey: string): unknown {
    return this.values.get(fullKey);
  }

  isSecret(fullKey: string): boolean {
    return this.secrets.has(fullKey);
  }

  keys(): string[] {
    return [...this.setKeys];
  }

  /**
   * The config map the Pulumi engine would hand the program (defaults included; structured values as JSON) and
   * which keys are secret: for running the program under mocks.
   */
  engineConfig(): { config: Record<string, string>; secretKeys: string[] } {
    const config: Record<string, string> = {};
    for (const [key, value] of this.values) {
      // An encrypted value cannot be handed on; the program would report the secret as missing.
      if (containsEncrypted(value)) continue;
      config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { config, secretKeys: [...this.secrets].filter((k) => k in config) };
  }
}

function containsEncrypted(v: unknown): boolean {
  if (v === ENCRYPTED) return true;
  if (v && typeof v === "object") return Object.values(v).some(containsEncrypted);
  return false;
}

/** The stacks that have a `Pulumi.<stack>.yaml` in the project directory. */
export function listStacks(dir: string = path.resolve(__dirname, "..")): string[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}
