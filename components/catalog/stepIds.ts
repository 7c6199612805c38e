/** The steps of a worker: the child commands the component creates, by id. */
import { Part } from "./catalog";

/** Step ids; a child is named `${componentName}-${id}`. */
export const STEP_IDS = [
  "ready",
  "runc",
  "containerd",
  "cni-plugins",
  "crictl",
  "config",
  "proxy",
  "registries",
  "crictl-yaml",
  "unit",
  "restart",
  "verify",
  "reset",
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** The step that installs each downloaded part. */
export const INSTALL_STEP: Readonly<Record<Part, DriftingStep>> = {
  runc: "runc",
  containerd: "containerd",
  cni: "cni-plugins",
  crictl: "crictl",
};

/** The steps whose result on the worker can drift (see hostDrift.ts). */
export const DRIFTING_STEPS = [
  "runc",
  "containerd",
  "cni-plugins",
  "crictl",
  "config",
  "registries",
  "crictl-yaml",
  "unit",
] as const;
export type DriftingStep = (typeof DRIFTING_STEPS)[number];
