/** The `containerdSettings` argument: extra config.toml settings, as users write them. */
import type * as TOML from "@iarna/toml";

/** A TOML value as it arrives in JavaScript. */
export type TomlValue = TOML.AnyJson;

/** A TOML table as the user writes it in JavaScript. */
export interface TomlTable {
  [key: string]: TomlValue;
}

/** A runtime handler besides runc (a RuntimeClass's `handler`): gVisor's runsc, Kata, a second runc. */
export interface RuntimeSettings {
  /** The shim, e.g. `io.containerd.runsc.v1`, `io.containerd.kata.v2`, `io.containerd.runc.v2`. Required. */
  runtimeType: string;
  /** Absolute path of the shim binary, when it is not on containerd's PATH. Default: none. */
  runtimePath?: string;
  /** Pod annotations passed through to the runtime. Default: none. */
  podAnnotations?: string[];
  /**
   * The shim's own options, e.g. runc's `BinaryName`, runsc's `TypeUrl` and `ConfigPath`: each a string, number,
   * boolean or list of strings. Default: none.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any: the schema's map of Any; checked at run time
  options?: Record<string, any>;
}

/**
 * Extra containerd settings, the same for every containerd version: the
 * component puts each where the chosen version reads it. Unset means
 * containerd's own default for that version.
 */
export interface ContainerdSettings {
  /** Snapshotter for CRI's images and containers: a built-in one (`overlayfs`, `native`, ...) or a proxy plugin. */
  snapshotter?: string;
  /** Longest container log line before it is split, in bytes; `-1` for no limit. containerd's default: 16384. */
  maxContainerLogLineSize?: number;
  /** Let pods bind ports below 1024 without a capability. containerd's default: `false` on 1.7, `true` on 2.x. */
  enableUnprivilegedPorts?: boolean;
  /** Let pods ping without a capability. containerd's default: `false` on 1.7, `true` on 2.x. */
  enableUnprivilegedIcmp?: boolean;
  /** Give devices the pod's `runAsUser`/`runAsGroup`. containerd's default: `false`. */
  deviceOwnershipFromSecurityContext?: boolean;
  /** Drop compressed layers once unpacked, to save disk. containerd's default: `false`. */
  discardUnpackedLayers?: boolean;
  /** Runtime handlers besides runc, by name (the RuntimeClass `handler`). Default: none. */
  runtimes?: Record<string, RuntimeSettings>;
  /**
   * Raw config.toml tables, deep-merged into the rendered file, for keys the typed
   * settings do not cover. Each key is checked against the chosen version's
   * schema. A key the component or a typed setting already sets is an error,
   * never a silent override. Values are TOML values (tables as objects). Default: none.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any: the schema's map of Any; checked at run time
  extraConfig?: Record<string, any>;
}
