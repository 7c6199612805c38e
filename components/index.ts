export * from "./catalog";
export { ContainerdWorker, ContainerdWorkerArgs, CONTAINERD_WORKER_TYPE } from "./containerdWorker";
export { InvalidInputError, resolveOptions, WorkerOptions, WorkerOptionsInput } from "./options";
export { planWorker, Step, StepId, STEP_IDS, WorkerPlan } from "./workerPlan";
export { parseRuntimeReport, RuntimeReport } from "./criAnswer";
