/** The runtime half of a KubeletConfiguration, rendered from what the runtime stack reports. */
import { stringify } from "yaml";

export interface WorkerRuntime {
  runtimeEndpoint: string;
  cgroupDriver: string;
}

/** The kubelet must use the socket and cgroup driver the runtime actually has. */
export function renderKubeletRuntimeConfig(runtime: WorkerRuntime): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    containerRuntimeEndpoint: runtime.runtimeEndpoint,
    cgroupDriver: runtime.cgroupDriver,
  });
}
