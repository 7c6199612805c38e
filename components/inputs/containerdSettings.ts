/**
 * Extra containerd settings: a few typed ones users ask for most, which the
 * renderer places where the chosen version keeps them, and `extraConfig`,
 * raw TOML tables checked against the keys of that version (see
 * containerdSchema.ts) before anything connects to a worker.
 */
import { configSchemaFor, versionNumbers } from "../catalog/catalog";
import { componentEntries, ContainerdConfigOptions, leavesOf, settingEntries } from "./configPlacement";
import {
  childSchema,
  CONTAINERD_SCHEMAS,
  locateKey,
  SchemaNode,
  SchemaTable,
  tomlPath,
} from "../catalog/containerdSchema";
import { InvalidInputError } from "./errors";
import { checkKeys, isPlainObject } from "./shape";
import { ContainerdSettings, RuntimeSettings, TomlTable } from "../args/containerdSettingsArgs";

const SETTINGS: (keyof ContainerdSettings)[] = [
  "snapshotter",
  "maxContainerLogLineSize",
  "enableUnprivilegedPorts",
  "enableUnprivilegedIcmp",
  "deviceOwnershipFromSecurityContext",
  "discardUnpackedLayers",
  "runtimes",
  "extraConfig",
];
const RUNTIME_FIELDS: (keyof RuntimeSettings)[] = ["runtimeType", "runtimePath", "podAnnotations", "options"];

const PREFIX = "containerdSettings";
// A RuntimeClass handler must be a DNS label.
const RUNTIME_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SHIM = /^io\.containerd\.[a-z0-9_-]+(\.[a-z0-9_-]+)*\.v[0-9]+$/;
const OPTION_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
const SNAPSHOTTER = /^[a-z0-9][a-z0-9_.-]*$/;
const SNAPSHOTTER_PLUGIN = "io.containerd.snapshotter.v1.";

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

function label(containerdVersion: string): string {
  const [major, minor] = versionNumbers(containerdVersion);
  return `containerd ${major}.${minor} (config version ${configSchemaFor(containerdVersion)})`;
}

/** A TOML value: string, finite number, boolean, or an array or table of those. */
function isTomlValue(value: unknown): boolean {
  if (typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isTomlValue);
  return isPlainObject(value) && Object.values(value).every(isTomlValue);
}

function describeType(node: SchemaNode): string {
  if (typeof node === "object") return "a table";
  return { string: "a string", number: "a number", boolean: "a boolean", array: "an array", any: "any value" }[node];
}

function matches(node: SchemaNode, value: unknown): boolean {
  if (node === "any") return true;
  if (typeof node === "object") return isPlainObject(value);
  if (node === "array") return Array.isArray(value);
  return typeof value === node;
}

/** The first value under a table, so an error can name a whole key path rather than the table it is in. */
function firstLeaf(value: unknown, at: string[]): string[] {
  if (!isPlainObject(value)) return at;
  const [key, child] = Object.entries(value)[0] ?? [];
  return key === undefined ? at : firstLeaf(child, [...at, key]);
}

/**
 * Where a key of this name lives in the schema or among the keys the component renders,
 * closest to what the user wrote first: fixed paths before `<name>` ones, then the most
 * tables of the user's path in common.
 */
function whereItLives(schema: SchemaTable, owned: { path: string[] }[], given: string[]): string {
  const name = given[given.length - 1] ?? "";
  // 1.x's sandbox_image is 2.x's pinned_images.sandbox, and the other way round.
  const names = name === "sandbox_image" ? [name, "sandbox"] : name === "sandbox" ? [name, "sandbox_image"] : [name];
  const found = new Map<string, string[]>();
  for (const each of names) {
    for (const path of locateKey(schema, each)) found.set(tomlPath(path), path);
    for (const { path } of owned) if (path[path.length - 1] === each) found.set(tomlPath(path), path);
  }
  const rank = (path: string[]) => [
    path.filter((key) => key.startsWith("<")).length,
    -given.slice(0, -1).filter((key) => path.some((other) => other.includes(key) || key.includes(other))).length,
    path.length,
  ];
  const order = (a: string[], b: string[]) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra.map((value, i) => value - (rb[i] ?? 0)).find((d) => d !== 0) ?? 0;
  };
  const paths = [...found.values()].sort(order).map(tomlPath);
  if (paths.length === 0) return "";
  const [first, ...others] = paths.slice(0, 4);
  return `; it lives at ${first}${others.length > 0 ? ` (also ${others.join(", ")})` : ""}`;
}

/** Checks every key of `extraConfig` against the chosen version's schema. */
function checkAgainstSchema(
  extra: Record<string, unknown>,
  containerdVersion: string,
  owned: { path: string[] }[],
): void {
  const root = CONTAINERD_SCHEMAS.schemas[configSchemaFor(containerdVersion)];
  const input = (path: string[]) => `${PREFIX}.extraConfig.${tomlPath(path)}`;
  const walk = (table: Record<string, unknown>, schema: SchemaTable, at: string[]): void => {
    for (const [key, value] of Object.entries(table)) {
      const path = [...at, key];
      if (!isTomlValue(value)) throw new InvalidInputError(input(path), `${show(value)} is not a TOML value`);
      const node = childSchema(schema, key);
      if (node === undefined) {
        const leaf = firstLeaf(value, path);
        throw new InvalidInputError(
          input(leaf),
          `${label(containerdVersion)} has no such key${whereItLives(root, owned, leaf)}`,
        );
      }
      if (!matches(node, value)) {
        throw new InvalidInputError(
          input(path),
          `${label(containerdVersion)} reads ${describeType(node)} here, not ${show(value)}`,
        );
      }
      if (typeof node === "object") walk(value as Record<string, unknown>, node, path);
    }
  };
  walk(extra, root, []);
}

/** An extra key that the component or a typed setting already renders, or a table around one, is an error. */
function checkNotOwned(extra: Record<string, unknown>, owned: { path: string[]; input?: string }[]): void {
  for (const { path } of leavesOf(extra as TomlTable)) {
    const clash = owned.find((entry) =>
      entry.path.length >= path.length
        ? path.every((key, i) => entry.path[i] === key)
        : entry.path.every((key, i) => path[i] === key),
    );
    if (clash === undefined) continue;
    const how =
      clash.input === undefined
        ? "the component renders this key itself (the config version, its install paths, runc); it cannot be overridden"
        : clash.input.startsWith(PREFIX)
          ? `already set by ${clash.input}; set it in one place`
          : `the component sets this key from the ${clash.input} argument; set that instead`;
    throw new InvalidInputError(`${PREFIX}.extraConfig.${tomlPath(path)}`, how);
  }
}

function checkRuntime(name: string, given: unknown): RuntimeSettings {
  const input = `${PREFIX}.runtimes.${name}`;
  if (!RUNTIME_NAME.test(name)) {
    throw new InvalidInputError(
      `${PREFIX}.runtimes`,
      `${show(name)} is not a runtime name (a DNS label such as "runsc")`,
    );
  }
  if (name === "runc") {
    throw new InvalidInputError(input, "runc is the component's own runtime; give another runtime another name");
  }
  if (!isPlainObject(given)) throw new InvalidInputError(input, `${show(given)} is not a table`);
  checkKeys(input, given, RUNTIME_FIELDS);
  const { runtimeType, runtimePath, podAnnotations, options } = given as Partial<
    Record<keyof RuntimeSettings, unknown>
  >;
  if (typeof runtimeType !== "string" || !SHIM.test(runtimeType)) {
    throw new InvalidInputError(
      `${input}.runtimeType`,
      `${show(runtimeType)} is not a shim name such as "io.containerd.runsc.v1" or "io.containerd.kata.v2"`,
    );
  }
  if (runtimePath !== undefined && (typeof runtimePath !== "string" || !/^\/[^\0]*$/.test(runtimePath))) {
    throw new InvalidInputError(`${input}.runtimePath`, `${show(runtimePath)} is not an absolute path`);
  }
  if (
    podAnnotations !== undefined &&
    !(Array.isArray(podAnnotations) && podAnnotations.every((a) => typeof a === "string"))
  ) {
    throw new InvalidInputError(`${input}.podAnnotations`, `${show(podAnnotations)} is not a list of strings`);
  }
  if (options !== undefined && !isPlainObject(options)) {
    throw new InvalidInputError(`${input}.options`, `${show(options)} is not a table`);
  }
  for (const [key, value] of Object.entries(options ?? {})) {
    const scalar = (v: unknown) =>
      typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
    if (
      !OPTION_KEY.test(key) ||
      !(scalar(value) || (Array.isArray(value) && value.every((v) => typeof v === "string")))
    ) {
      throw new InvalidInputError(
        `${input}.options.${key}`,
        `${show(value)}: an option is a name such as BinaryName with a string, number, boolean or list of strings`,
      );
    }
  }
  return given as unknown as RuntimeSettings;
}

/** The snapshotters a version has built in, from its schema's plugin list. */
function builtInSnapshotters(containerdVersion: string): string[] {
  const plugins = CONTAINERD_SCHEMAS.schemas[configSchemaFor(containerdVersion)].plugins;
  return Object.keys(typeof plugins === "object" ? plugins : {})
    .filter((id) => id.startsWith(SNAPSHOTTER_PLUGIN))
    .map((id) => id.slice(SNAPSHOTTER_PLUGIN.length))
    .sort();
}

function checkSnapshotter(value: unknown, containerdVersion: string, extra: Record<string, unknown>): void {
  const input = `${PREFIX}.snapshotter`;
  if (typeof value !== "string" || !SNAPSHOTTER.test(value)) {
    throw new InvalidInputError(input, `${show(value)} is not a snapshotter name such as "overlayfs"`);
  }
  const builtIn = builtInSnapshotters(containerdVersion);
  const proxies = isPlainObject(extra.proxy_plugins) ? extra.proxy_plugins : {};
  const proxy = proxies[value];
  if (builtIn.includes(value) || (isPlainObject(proxy) && proxy.type === "snapshot")) return;
  throw new InvalidInputError(
    input,
    `${show(value)} is not a snapshotter of ${label(containerdVersion)}: use one of ${builtIn.join(", ")}, ` +
      `or declare it in extraConfig.proxy_plugins.${value} with type = "snapshot"`,
  );
}

/**
 * Validates `containerdSettings` for the chosen version. `config` is the rest of
 * what the renderer gets, so a clash with a key the component renders is found here.
 */
export function resolveContainerdSettings(given: unknown, config: ContainerdConfigOptions): ContainerdSettings {
  if (given === undefined) return {};
  if (!isPlainObject(given)) throw new InvalidInputError(PREFIX, `${show(given)} is not an object of settings`);
  checkKeys(PREFIX, given, SETTINGS);
  const settings = given as Partial<Record<keyof ContainerdSettings, unknown>>;
  const version = config.containerdVersion;
  const extra = settings.extraConfig ?? {};
  if (!isPlainObject(extra)) throw new InvalidInputError(`${PREFIX}.extraConfig`, `${show(extra)} is not a table`);

  if (settings.snapshotter !== undefined) checkSnapshotter(settings.snapshotter, version, extra);
  const size = settings.maxContainerLogLineSize;
  if (
    size !== undefined &&
    !(Number.isInteger(size) && ((size as number) === -1 || ((size as number) > 0 && (size as number) <= 2 ** 31 - 1)))
  ) {
    throw new InvalidInputError(
      `${PREFIX}.maxContainerLogLineSize`,
      `${show(size)} is not a size in bytes from 1 to 2147483647, or -1 for no limit`,
    );
  }
  for (const flag of [
    "enableUnprivilegedPorts",
    "enableUnprivilegedIcmp",
    "deviceOwnershipFromSecurityContext",
    "discardUnpackedLayers",
  ] as const) {
    const value = settings[flag];
    if (value !== undefined && typeof value !== "boolean") {
      throw new InvalidInputError(`${PREFIX}.${flag}`, `${show(value)} is not a boolean`);
    }
  }
  const runtimes = settings.runtimes ?? {};
  if (!isPlainObject(runtimes))
    throw new InvalidInputError(`${PREFIX}.runtimes`, `${show(runtimes)} is not a table of runtimes by name`);
  for (const [name, runtime] of Object.entries(runtimes)) checkRuntime(name, runtime);

  const resolved = given as ContainerdSettings;
  const component = componentEntries(config);
  // Registries come only from the hosts files (config_path, the registries argument): containerd
  // refuses the old inline mirrors and configs next to config_path, so the whole table is owned.
  const registryTable = component.find((entry) => entry.path.at(-1) === "config_path")?.path.slice(0, -1) ?? [];
  const owned = [
    ...component,
    { path: registryTable, input: "registries" },
    ...settingEntries(resolved, configSchemaFor(version)),
  ];
  checkAgainstSchema(extra, version, owned);
  checkNotOwned(extra, owned);
  return resolved;
}
