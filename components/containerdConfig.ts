/**
 * Renders /etc/containerd/config.toml for the chosen containerd version.
 *
 * The file holds only the keys we set; containerd merges it over its own
 * defaults. Keys are placed by the schema of the version that will read them,
 * because containerd silently ignores a key in the wrong place.
 *
 * `config_path` is always set, with or without registries: containerd reads the
 * hosts.toml files under it on every pull, so adding, changing or removing a
 * registry later changes only those files and never restarts containerd.
 */
import * as TOML from "@iarna/toml";
import { configSchemaFor, ConfigSchema, PATHS, versionNumbers } from "./catalog";

export interface ContainerdConfigOptions {
  /** containerd version that will read the file; picks the schema. */
  containerdVersion: string;
  /** Pinned sandbox (pause) image. */
  sandboxImage: string;
  /** `true` for the systemd cgroup driver, `false` for cgroupfs. */
  systemdCgroup: boolean;
}

/**
 * A rendered key as `containerd config dump` prints it, whitespace folded:
 * any one of `lines` proves the key took effect.
 */
export interface ConfigExpectation {
  key: string;
  lines: string[];
}

export interface RenderedConfig {
  schema: ConfigSchema;
  text: string;
  /** What `containerd config dump` must show once containerd runs with this file. */
  dumpExpectations: ConfigExpectation[];
}

const RUNC_RUNTIME_TYPE = "io.containerd.runc.v2";

/** containerd 1.x prints TOML strings in double quotes, 2.x in single quotes. */
function dumpLines(key: string, value: string | boolean): string[] {
  if (typeof value === "boolean") return [`${key} = ${value}`];
  return [`${key} = '${value}'`, `${key} = "${value}"`];
}

function runcOptions(options: ContainerdConfigOptions): TOML.JsonMap {
  return { SystemdCgroup: options.systemdCgroup, BinaryName: PATHS.runcBinary };
}

/** Schema 2 (containerd 1.7): everything under the single `io.containerd.grpc.v1.cri` plugin. */
function schema2(options: ContainerdConfigOptions): TOML.JsonMap {
  return {
    version: 2,
    plugins: {
      "io.containerd.grpc.v1.cri": {
        sandbox_image: options.sandboxImage,
        registry: { config_path: PATHS.registryConfigDir },
        containerd: {
          runtimes: { runc: { runtime_type: RUNC_RUNTIME_TYPE, options: runcOptions(options) } },
        },
        cni: { bin_dir: PATHS.cniBinDir, conf_dir: PATHS.cniConfDir },
      },
    },
  };
}

/** Schemas 3 and 4 (containerd 2.x): CRI split into images and runtime plugins. */
function schema3or4(schema: 3 | 4, options: ContainerdConfigOptions): TOML.JsonMap {
  const [, minor] = versionNumbers(options.containerdVersion);
  // `bin_dirs` replaced `bin_dir` in 2.1; 2.0 knows only `bin_dir`.
  const cniBin: TOML.JsonMap = minor >= 1 ? { bin_dirs: [PATHS.cniBinDir] } : { bin_dir: PATHS.cniBinDir };
  return {
    version: schema,
    plugins: {
      "io.containerd.cri.v1.images": {
        pinned_images: { sandbox: options.sandboxImage },
        registry: { config_path: PATHS.registryConfigDir },
      },
      "io.containerd.cri.v1.runtime": {
        containerd: {
          runtimes: { runc: { runtime_type: RUNC_RUNTIME_TYPE, options: runcOptions(options) } },
        },
        cni: { ...cniBin, conf_dir: PATHS.cniConfDir },
      },
    },
  };
}

export function renderContainerdConfig(options: ContainerdConfigOptions): RenderedConfig {
  const schema = configSchemaFor(options.containerdVersion);
  const document = schema === 2 ? schema2(options) : schema3or4(schema, options);
  const sandboxKey = schema === 2 ? "sandbox_image" : "sandbox";
  return {
    schema,
    text: TOML.stringify(document),
    dumpExpectations: [
      { key: sandboxKey, lines: dumpLines(sandboxKey, options.sandboxImage) },
      { key: "SystemdCgroup", lines: dumpLines("SystemdCgroup", options.systemdCgroup) },
      { key: "BinaryName", lines: dumpLines("BinaryName", PATHS.runcBinary) },
      { key: "conf_dir", lines: dumpLines("conf_dir", PATHS.cniConfDir) },
      { key: "config_path", lines: dumpLines("config_path", PATHS.registryConfigDir) },
    ],
  };
}
