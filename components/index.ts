/**
 * The library's public surface: the component, its argument types, and the program-wide bound on drift
 * reads. Everything else is internal; tests reach it by its own path.
 */
export { ContainerdWorker } from "./containerdWorker";
export type {
  AfterResource,
  Checksums,
  ContainerdWorkerArgs,
  HttpProxyArgs,
  Versions,
  WorkerOptionsInput,
} from "./args/containerdWorkerArgs";
export { Arch, CgroupDriver, WorkerArch } from "./args/enums";
export { RegistryCapability } from "./args/registryArgs";
export type { RegistryHostsInput, RegistryMirrorInput } from "./args/registryArgs";
export type { ContainerdSettings, RuntimeSettings, TomlTable, TomlValue } from "./args/containerdSettingsArgs";
export { DEFAULT_DRIFT_READ_CONCURRENCY, setDriftReadConcurrency } from "./wiring/driftReads";
