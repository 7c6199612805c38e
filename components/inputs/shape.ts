/** Shape checks shared by the inputs that are objects: plain tables, known keys, booleans, paths in messages. */
import { InvalidInputError } from "./errors";

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Refuses a key not in `allowed`, naming it and the settings there are. */
export function checkKeys(input: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new InvalidInputError(`${input}.${key}`, `unknown setting; the settings are ${allowed.join(", ")}`);
    }
  }
}

/** A boolean, or undefined when not given. */
export function resolveBoolean(input: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw new InvalidInputError(input, `${JSON.stringify(value)} is not a boolean`);
  }
  return value;
}

/** The path of `key` below `input`, as error messages name it: `a.b` for identifiers, `a["x.y"]` otherwise. */
export function childPath(input: string, key: string | number): string {
  if (typeof key === "number") return `${input}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${input}.${key}` : `${input}[${JSON.stringify(key)}]`;
}
