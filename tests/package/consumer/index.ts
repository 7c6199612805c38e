/**
 * A user's program, as the package test installs it: two workers from the published package, one option given as
 * an Output (a secret from the stack config), and a check from `containerd-worker/config`.
 */
import * as pulumi from "@pulumi/pulumi";
import { ContainerdWorker } from "containerd-worker";
import { InvalidInputError, resolveSecretCapable } from "containerd-worker/config";

const config = new pulumi.Config();
const privateKey = config.requireSecret("sshPrivateKey");
/** An Output for an option: the mirror's URL, a secret. */
const downloadBaseUrl: pulumi.Output<string> = config.requireSecret("downloadBaseUrl");

const workers = ["203.0.113.10", "203.0.113.11"].map(
  (host, index) =>
    new ContainerdWorker(`consumer-${index}`, {
      connection: { host, user: "ubuntu", privateKey },
      downloadBaseUrl,
      // Documentation addresses: nothing may try to reach them.
      detectHostDrift: false,
    }),
);

export const runtimeEndpoints = workers.map((worker) => worker.runtimeEndpoint);

/** What the config entry's check throws is the class it exports. */
export const refusedInput = ((): string => {
  try {
    resolveSecretCapable({ downloadBaseUrl: "ftp://mirror.example" });
    return "accepted";
  } catch (error) {
    return error instanceof InvalidInputError ? error.input : `not an InvalidInputError: ${String(error)}`;
  }
})();
