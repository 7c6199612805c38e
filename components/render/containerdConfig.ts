/**
 * Renders /etc/containerd/config.toml for the chosen containerd version.
 *
 * The file holds only the keys we set; containerd merges it over its own
 * defaults. Keys are placed by the schema of the version that will read them,
 * because containerd silently ignores a key in the wrong place.
 */
import * as TOML from "@iarna/toml";
import { configSchemaFor, ConfigSchema } from "../catalog/catalog";
import { tomlPath } from "../catalog/containerdSchema";
import {
  ConfigEntry,
  ContainerdConfigOptions,
  componentEntries,
  isTable,
  leavesOf,
  settingEntries,
} from "../inputs/configPlacement";
import { TomlValue } from "../args/containerdSettingsArgs";

/**
 * A rendered key as `containerd config dump` prints it, whitespace folded:
 * under one of `headers` (none for a top-level key), any one of `lines`
 * proves the key took effect.
 */
export interface ConfigExpectation {
  key: string;
  headers: string[];
  lines: string[];
}

export interface RenderedConfig {
  schema: ConfigSchema;
  text: string;
  /** What `containerd config dump` must show once containerd runs with this file. */
  dumpExpectations: ConfigExpectation[];
}

/**
 * Sets `table[key]` as an own property. A key is the user's (extraConfig's, at any depth), and may be
 * `__proto__`: plain assignment would set the table's prototype, or through a prototype that lookup
 * returned, Object.prototype itself, instead of a key of the file.
 */
function define<T>(table: TOML.JsonMap, key: string, value: T): T {
  Object.defineProperty(table, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}

function place(document: TOML.JsonMap, { path, value }: ConfigEntry): void {
  let table = document;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(table, key) ? table[key] : undefined;
    if (next !== undefined && !isTable(next)) throw new Error(`${tomlPath(path)}: ${key} is not a table`);
    table = next ?? define<TOML.JsonMap>(table, key, {});
  }
  const last = path[path.length - 1];
  if (last === undefined || Object.hasOwn(table, last)) throw new Error(`${tomlPath(path)} is rendered twice`);
  define(table, last, value);
}

/**
 * A value as the dump prints it: containerd 1.x writes strings in double quotes, 2.x in single
 * quotes unless the string needs escapes.
 */
function dumpForms(value: TomlValue, quote: "'" | '"'): string | undefined {
  if (typeof value === "string") {
    return quote === "'" && !/['\u0000-\u001f\u007f]/.test(value) ? `'${value}'` : JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const items = (value as TomlValue[]).map((item) => dumpForms(item, quote));
    return items.every((item) => item !== undefined) ? `[${items.join(", ")}]` : undefined;
  }
  return undefined;
}

function dumpKey(key: string, quote: "'" | '"'): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : `${quote}${key}${quote}`;
}

/** The dump lines for a rendered value; none for an array of tables, which the dump prints as its own sections. */
function expectationFor({ path, value }: ConfigEntry): ConfigExpectation | undefined {
  const table = path.slice(0, -1);
  const key = path[path.length - 1] ?? "";
  const forms = (["'", '"'] as const).map((quote) => ({
    header: table.length === 0 ? "" : `[${table.map((k) => dumpKey(k, quote)).join(".")}]`,
    line: ((v) => (v === undefined ? undefined : `${dumpKey(key, quote)} = ${v}`))(dumpForms(value, quote)),
  }));
  if (forms.some((form) => form.line === undefined)) return undefined;
  // Folded as verify folds the dump (awk's fields: runs of spaces and tabs), or a key or value holding
  // two spaces in a row would never match the dump's line for it.
  const fold = (text: string) => text.replace(/[ \t]+/g, " ").replace(/^ | $/g, "");
  const unique = (values: string[]) => [...new Set(values.map(fold))];
  return {
    key: tomlPath(path),
    headers: table.length === 0 ? [] : unique(forms.map((form) => form.header)),
    lines: unique(forms.map((form) => form.line as string)),
  };
}

export function renderContainerdConfig(options: ContainerdConfigOptions): RenderedConfig {
  const schema = configSchemaFor(options.containerdVersion);
  const settings = options.settings ?? {};
  const entries = [
    ...componentEntries(options),
    ...settingEntries(settings, schema),
    // Validation rejects an extra key that another entry already sets, so `place` never overwrites.
    ...leavesOf(settings.extraConfig ?? {}),
  ];
  const document: TOML.JsonMap = {};
  for (const entry of entries) place(document, entry);
  return {
    schema,
    text: TOML.stringify(document),
    // `version` is how the file is read, not a setting: the dump shows the version containerd migrated to.
    dumpExpectations: entries
      .filter((entry) => entry.path.join(".") !== "version")
      .map(expectationFor)
      .filter((expectation): expectation is ConfigExpectation => expectation !== undefined),
  };
}
