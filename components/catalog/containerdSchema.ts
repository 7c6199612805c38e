/**
 * Which config.toml keys each config version has: data generated from what real
 * containerd binaries print for `containerd config default` (see
 * tools/containerdSchema.ts), and the lookups the settings check makes in it.
 */
import type { ConfigSchema } from "./catalog";
import data from "./containerdConfigKeys.json";

/** The value types a key can hold, as TOML values arrive in JavaScript. */
export type LeafType = "string" | "number" | "boolean" | "array";

/**
 * A key's value type; `any` where containerd takes whatever the table holds
 * (a shim's options, per-host registry tables); or a table, in which `*`
 * stands for every key the user names (runtimes, timeouts, proxy plugins).
 */
export type SchemaNode = LeafType | "any" | SchemaTable;
export interface SchemaTable {
  [key: string]: SchemaNode;
}

export interface SchemaFile {
  /** Where each version's keys come from. */
  sources: Record<ConfigSchema, string>;
  schemas: Record<ConfigSchema, SchemaTable>;
}

export const CONTAINERD_SCHEMAS = data as unknown as SchemaFile;

/** The schema of a key inside a table: its own entry, else the table's `*`. */
export function childSchema(table: SchemaTable, key: string): SchemaNode | undefined {
  if (Object.hasOwn(table, key)) return table[key];
  return key === "*" ? undefined : table["*"];
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
/** Shown for a `*` key in a located path. */
const NAMED = "<name>";

/** A key path as it is written in TOML, e.g. `plugins."io.containerd.cri.v1.images".snapshotter`. */
export function tomlPath(keys: readonly string[]): string {
  return keys.map((key) => (BARE_KEY.test(key) || key === NAMED ? key : JSON.stringify(key))).join(".");
}

/** Every path at which a key of this name exists; `<name>` stands for a key the user names. */
export function locateKey(root: SchemaTable, name: string): string[][] {
  const found: string[][] = [];
  const walk = (table: SchemaTable, at: string[]): void => {
    for (const [key, node] of Object.entries(table)) {
      const path = [...at, key === "*" ? NAMED : key];
      if (key === name) found.push(path);
      if (typeof node === "object") walk(node, path);
    }
  };
  walk(root, []);
  return found;
}
