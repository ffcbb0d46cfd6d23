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
