/** The `registries` argument: containerd's hosts.toml per registry, as users write it. */

/** What a registry host may be used for; containerd's `capabilities`. */
export const RegistryCapability = { Pull: "pull", Resolve: "resolve", Push: "push" } as const;
export type RegistryCapability = (typeof RegistryCapability)[keyof typeof RegistryCapability];
export const REGISTRY_CAPABILITIES: readonly RegistryCapability[] = Object.values(RegistryCapability);

/** containerd's own default for a mirror: pull blobs and resolve tags, never push. */
export const DEFAULT_MIRROR_CAPABILITIES: readonly RegistryCapability[] = ["pull", "resolve"];

/** One `[host."<url>"]` table: a mirror tried, in order, before the registry's server. */
export interface RegistryMirrorInput {
  /** The mirror's URL, `http(s)://host[:port][/path]`. */
  host: string;
  /** Default `["pull", "resolve"]`. */
  capabilities?: RegistryCapability[];
  /** A CA certificate (PEM) to trust for this mirror; written beside hosts.toml and referenced by `ca`. */
  caPem?: string;
  /** Skip TLS verification for this mirror. Default: not set (containerd verifies). */
  skipVerify?: boolean;
  /**
   * Headers sent with every request to this mirror, each with its values; not secret (they are in the stack and on
   * the worker). A single string is still taken as one value.
   */
  headers?: Record<string, string[]>;
  /** Use the URL's path as the API root instead of appending `/v2`. Default: not set (false). */
  overridePath?: boolean;
}

/** The hosts.toml of one registry. */
export interface RegistryHostsInput {
  /** The registry's own URL (`server`); containerd's default is `https://<registry>`. */
  server?: string;
  mirrors?: RegistryMirrorInput[];
}
