import { RegistryCapability } from "../args/registryArgs";
/** The `registries` argument after validation. */

/** A mirror after validation: capabilities filled in, header values as lists, the PEM ending in a newline. */
export interface RegistryMirror {
  host: string;
  capabilities: RegistryCapability[];
  caPem?: string;
  skipVerify?: boolean;
  headers?: Record<string, string[]>;
  overridePath?: boolean;
}

export interface RegistryHosts {
  server?: string;
  mirrors: RegistryMirror[];
}
