/**
 * How a kubelet stack reads the runtime stack: one StackReference, then
 * `requireOutput` for the values the kubelet configuration needs.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderKubeletRuntimeConfig, WorkerRuntime } from "./kubeletConfig";

const config = new pulumi.Config();
const runtime = new pulumi.StackReference(config.require("runtimeStack"));

/** Shared by every worker. */
export const runtimeEndpoint = runtime.requireOutput("runtimeEndpoint") as pulumi.Output<string>;
export const cgroupDriver = runtime.requireOutput("cgroupDriver") as pulumi.Output<string>;
export const containerdVersion = runtime.requireOutput("runtimeVersion") as pulumi.Output<string>;

/** One KubeletConfiguration fragment per worker, from what that worker's runtime reported. */
export const kubeletConfigs = (runtime.requireOutput("workers") as pulumi.Output<Record<string, WorkerRuntime>>).apply(
  (workers) =>
    Object.fromEntries(Object.entries(workers).map(([name, worker]) => [name, renderKubeletRuntimeConfig(worker)])),
);
