/** One worker you already have, given its container runtime by the containerd-worker package. */
import * as pulumi from "@pulumi/pulumi";
import { ContainerdWorker } from "containerd-worker";

const config = new pulumi.Config();
const worker = new ContainerdWorker("worker-0", {
  connection: {
    host: config.require("host"),
    user: config.get("user") ?? "ubuntu",
    privateKey: config.requireSecret("sshPrivateKey"),
  },
});

/** What the kubelet on this worker needs. */
export const runtimeEndpoint = worker.runtimeEndpoint;
export const runtimeVersion = worker.runtimeVersion;
export const cgroupDriver = worker.cgroupDriver;
