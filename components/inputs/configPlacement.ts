/**
 * Where containerd reads each key the component renders, per config schema: the component's own keys, the
 * typed settings, and extraConfig's leaves. Both the settings check (a key set twice is an error) and the
 * renderer place keys from here, so they cannot disagree.
 */
import type * as TOML from "@iarna/toml";
import { configSchemaFor, ConfigSchema, PATHS, versionNumbers } from "../catalog/catalog";
import type { ContainerdSettings, TomlValue } from "../args/containerdSettingsArgs";

export interface ContainerdConfigOptions {
  /** containerd version that will read the file; picks the schema. */
  containerdVersion: string;
  /** Pinned sandbox (pause) image. */
  sandboxImage: string;
  /** `true` for the systemd cgroup driver, `false` for cgroupfs. */
  systemdCgroup: boolean;
  /** Validated extra settings (see `resolveContainerdSettings`); none by default. */
  settings?: ContainerdSettings;
}

/** One rendered key: where it goes and which argument set it. */
export interface ConfigEntry {
  path: string[];
  value: TomlValue;
  /** The argument it comes from, e.g. `sandboxImage`; absent for what the component fixes (paths, runc). */
  input?: string;
}

const RUNC_RUNTIME_TYPE = "io.containerd.runc.v2";

const CRI_1X = ["plugins", "io.containerd.grpc.v1.cri"];
const CRI_IMAGES = ["plugins", "io.containerd.cri.v1.images"];
const CRI_RUNTIME = ["plugins", "io.containerd.cri.v1.runtime"];

/** The tables the CRI keys live in: one plugin in schema 2 (containerd 1.7), images and runtime plugins after. */
function criTables(schema: ConfigSchema): { images: string[]; runtime: string[]; runtimes: string[] } {
  return schema === 2
    ? { images: [...CRI_1X, "containerd"], runtime: CRI_1X, runtimes: [...CRI_1X, "containerd", "runtimes"] }
    : { images: CRI_IMAGES, runtime: CRI_RUNTIME, runtimes: [...CRI_RUNTIME, "containerd", "runtimes"] };
}

/**
 * The keys the component itself renders for a version: sandbox image, runc with its cgroup driver, CNI paths,
 * and the registry hosts directory (see registryHosts.ts).
 */
export function componentEntries(options: ContainerdConfigOptions): ConfigEntry[] {
  const schema = configSchemaFor(options.containerdVersion);
  const [, minor] = versionNumbers(options.containerdVersion);
  const { images, runtime, runtimes } = criTables(schema);
  const runc = [...runtimes, "runc"];
  const cni = [...runtime, "cni"];
  return [
    { path: ["version"], value: schema },
    schema === 2
      ? { path: [...CRI_1X, "sandbox_image"], value: options.sandboxImage, input: "sandboxImage" }
      : { path: [...images, "pinned_images", "sandbox"], value: options.sandboxImage, input: "sandboxImage" },
    { path: [...runc, "runtime_type"], value: RUNC_RUNTIME_TYPE },
    { path: [...runc, "options", "SystemdCgroup"], value: options.systemdCgroup, input: "systemdCgroup" },
    { path: [...runc, "options", "BinaryName"], value: PATHS.runcBinary },
    // `bin_dirs` replaced `bin_dir` in 2.1; 1.7 and 2.0 know only `bin_dir`.
    schema !== 2 && minor >= 1
      ? { path: [...cni, "bin_dirs"], value: [PATHS.cniBinDir] }
      : { path: [...cni, "bin_dir"], value: PATHS.cniBinDir },
    { path: [...cni, "conf_dir"], value: PATHS.cniConfDir },
    // Always set, so adding registries later rewrites hosts files only and never restarts containerd.
    {
      path: [...(schema === 2 ? CRI_1X : CRI_IMAGES), "registry", "config_path"],
      value: PATHS.registryConfigDir,
      input: "registries",
    },
  ];
}

/** The typed settings placed where this schema keeps them. */
export function settingEntries(settings: ContainerdSettings, schema: ConfigSchema): ConfigEntry[] {
  const { images, runtime, runtimes } = criTables(schema);
  const input = (name: string) => `containerdSettings.${name}`;
  const scalar = (name: keyof ContainerdSettings, path: string[]): ConfigEntry[] => {
    const value = settings[name];
    return value === undefined ? [] : [{ path, value: value as TomlValue, input: input(name) }];
  };
  const entries = [
    ...scalar("snapshotter", [...images, "snapshotter"]),
    ...scalar("discardUnpackedLayers", [...images, "discard_unpacked_layers"]),
    ...scalar("maxContainerLogLineSize", [...runtime, "max_container_log_line_size"]),
    ...scalar("enableUnprivilegedPorts", [...runtime, "enable_unprivileged_ports"]),
    ...scalar("enableUnprivilegedIcmp", [...runtime, "enable_unprivileged_icmp"]),
    ...scalar("deviceOwnershipFromSecurityContext", [...runtime, "device_ownership_from_security_context"]),
  ];
  for (const [name, handler] of Object.entries(settings.runtimes ?? {})) {
    const at = [...runtimes, name];
    const from = input(`runtimes.${name}`);
    entries.push({ path: [...at, "runtime_type"], value: handler.runtimeType, input: `${from}.runtimeType` });
    if (handler.runtimePath !== undefined) {
      entries.push({ path: [...at, "runtime_path"], value: handler.runtimePath, input: `${from}.runtimePath` });
    }
    if (handler.podAnnotations !== undefined) {
      entries.push({
        path: [...at, "pod_annotations"],
        value: handler.podAnnotations,
        input: `${from}.podAnnotations`,
      });
    }
    for (const [key, value] of Object.entries<TomlValue>(handler.options ?? {})) {
      entries.push({ path: [...at, "options", key], value, input: `${from}.options.${key}` });
    }
  }
  return entries;
}

export function isTable(value: unknown): value is TOML.JsonMap {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Every value of a TOML document with its path; arrays are values. */
export function leavesOf(table: TOML.JsonMap, at: string[] = []): ConfigEntry[] {
  return Object.entries(table).flatMap(([key, value]) =>
    isTable(value) ? leavesOf(value, [...at, key]) : [{ path: [...at, key], value }],
  );
}
