export * from "./catalog";
export { ContainerdWorker, ContainerdWorkerArgs, CONTAINERD_WORKER_TYPE } from "./containerdWorker";
export { DEFAULT_DRIFT_READ_CONCURRENCY, setDriftReadConcurrency } from "./driftReads";
export { InvalidInputError, resolveOptions, WorkerOptions, WorkerOptionsInput } from "./options";
export { RegistryCapability, RegistryHostsInput, RegistryMirrorInput } from "./registryHosts";
export { planWorker, Step, WorkerPlan } from "./workerPlan";
export { DRIFTING_STEPS, DriftingStep, INSTALL_STEP, StepId, STEP_IDS } from "./steps";
export { parseRuntimeReport, RuntimeReport } from "./criAnswer";
export { ContainerdSettings, RuntimeSettings, TomlTable } from "./containerdSettings";
