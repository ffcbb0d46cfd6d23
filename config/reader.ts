/**
 * Typed access to raw config values that files a problem (naming the key and what is allowed) instead of throwing,
 * so the loader can go on and report every problem at once.
 */
import { ConfigSource, ENCRYPTED } from "./config-source";
import { ConfigProblems, didYouMean, reportDuplicates, show } from "./config-problems";
import { SecretValue } from "./secret-value";
import { parseDuration, Duration } from "./duration";
import { MAX_RETENTION_SECONDS } from "./limits";
import { cidrProblem } from "./value-checks";

export interface LoadOptions {
  /**
   * Whether a missing secret is an error. `pulumi up` needs them; the offline render never reads secret values
   * (they go to SSM, not into files), so it only warns.
   */
  requireSecrets: boolean;
}

/** Typed, problem-collecting access to raw config values. */
export class Reader {
  constructor(
    private readonly source: ConfigSource,
    private readonly p: ConfigProblems,
  ) {}

  full(key: string, qualified = false): string {
    return qualified ? key : `${this.source.project}:${key}`;
  }

  raw(key: string, qualified = false): unknown {
    return this.source.get(this.full(key, qualified));
  }

  isSecret(key: string): boolean {
    return this.source.isSecret(this.full(key));
  }

  string(key: string, opts: { required?: boolean; qualified?: boolean } = {}): string | undefined {
    const full = this.full(key, opts.qualified);
    const v = this.source.get(full);
    if (v === undefined || v === "") {
      if (opts.required) this.p.add(full, "is required but not set");
      return undefined;
    }
    if (typeof v !== "string") {
      this.p.add(full, `must be a string, got ${show(v)}`);
      return undefined;
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], opts: { required?: boolean } = {}): T | undefined {
    const v = this.string(key, opts);
    if (v === undefined) return undefined;
    if (!allowed.includes(v as T)) {
      this.p.add(this.full(key), `${show(v)} is not allowed; allowed: ${allowed.join(", ")}${didYouMean(v, allowed)}`);
      return undefined;
    }
    return v as T;
  }

  boolean(key: string, fallback: boolean): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    this.p.add(this.full(key), `${show(v)} must be true or false`);
    return undefined;
  }

  integer(key: string, min: number, max: number): number | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (v === undefined) {
      this.p.add(full, "is required but not set");
      return undefined;
    }
    if (!Number.isInteger(n)) {
      this.p.add(full, `${show(v)} must be a whole number from ${min} to ${max}`);
      return undefined;
    }
    if (n < min || n > max) {
      this.p.add(full, `${n} is out of range; allowed: ${min} to ${max}`);
      return undefined;
    }
    return n;
  }

  duration(key: string, rule: { minSeconds: number; multipleOfSeconds?: number; what: string }): Duration | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === undefined || v === "") {
      this.p.add(full, "is required but not set");
      return undefined;
    }
    const d = typeof v === "string" ? parseDuration(v) : undefined;
    if (!d) {
      this.p.add(full, `${show(v)} is not a duration; use a number with a unit, like 15d, 36h or 2w (units: y w d h m s)`);
      return undefined;
    }
    if (
      d.seconds <= 0 ||
      d.seconds < rule.minSeconds ||
      d.seconds > MAX_RETENTION_SECONDS ||
      (rule.multipleOfSeconds && d.seconds % rule.multipleOfSeconds !== 0)
    ) {
      this.p.add(full, `${show(v)} is not allowed; it must be ${rule.what}`);
      return undefined;
    }
    return d;
  }

  stringList(key: string): string[] {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      this.p.add(full, `must be a list of strings, got ${show(v)}`);
      return [];
    }
    return v as string[];
  }

  cidrList(key: string): string[] {
    const full = this.full(key);
    const list = this.stringList(key);
    list.forEach((cidr, i) => {
      const problem = cidrProblem(cidr);
      if (problem) this.p.add(`${full}[${i}]`, `${show(cidr)} ${problem}`);
    });
    reportDuplicates(this.p, full, list);
    return list;
  }

  /** A secret key; `optional` ones are simply absent (undefined) when unset. */
  secret(
    key: string,
    options: LoadOptions,
    rule: { optional?: boolean; check(v: string): string | undefined },
  ): SecretValue | undefined {
    const full = this.full(key);
    const v = this.source.get(full);
    if (v === ENCRYPTED) return new SecretValue(undefined);
    if (v === undefined || v === "") {
      if (rule.optional) return undefined;
      if (options.requireSecrets) {
        this.p.add(full, `missing required secret; set it with \`pulumi config set --secret ${key} <value>\``);
        return undefined;
      }
      return new SecretValue(undefined);
    }
    if (!this.source.isSecret(full)) {
      this.p.add(full, `is stored in plain text; store it as a secret with \`pulumi config set --secret ${key} <value>\` (value not shown)`);
    }
    if (typeof v !== "string") {
      this.p.add(full, "must be a string (value not shown)");
      return undefined;
    }
    const problem = rule.check(v);
    if (problem) this.p.add(full, `${problem} (value not shown)`);
    return new SecretValue(v);
  }
}
