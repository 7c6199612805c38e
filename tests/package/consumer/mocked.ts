/**
 * Runs the program under Pulumi's mocks with plain node, from its compiled JavaScript, and prints every
 * registration (type, name, parent URN) and the program's outputs as one JSON line, once the run is done.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

interface Registration {
  type: string;
  name: string;
  parent: string;
}
const registrations: Registration[] = [];

// Resource options (the parent) do not reach `newResource`; the register request carries them.
type Register = (
  this: MockMonitor,
  req: RegisterRequest,
  callback: (err: unknown, response: unknown) => void,
) => Promise<void>;
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
}
const original = Object.getOwnPropertyDescriptor(MockMonitor.prototype, "registerResource")?.value as Register;
MockMonitor.prototype.registerResource = function (this: MockMonitor, req: RegisterRequest, callback) {
  registrations.push({ type: req.getType(), name: req.getName(), parent: req.getParent() });
  return original.call(this, req, callback);
};

/** What `crictl version` answers on a set-up worker. */
const VERIFY_STDOUT = [
  "Version:  0.1.0",
  "RuntimeName:  containerd",
  "RuntimeVersion:  v2.3.1",
  "RuntimeApiVersion:  v1",
  "CgroupDriver:  systemd",
  "LastCNILoadStatus:  cni config load failed: no network config found in /etc/cni/net.d",
].join("\n");

pulumi.runtime.setAllConfig(
  {
    "consumer:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nconsumer\n-----END OPENSSH PRIVATE KEY-----\n",
    "consumer:downloadBaseUrl": "https://mirror.example",
  },
  ["consumer:sshPrivateKey", "consumer:downloadBaseUrl"],
);
void pulumi.runtime.setMocks(
  {
    newResource: (args) => ({
      id: `${args.name}-id`,
      state: { ...(args.inputs as object), ...(args.name.endsWith("-verify") ? { stdout: VERIFY_STDOUT } : {}) },
    }),
    call: () => ({}),
  },
  "consumer",
  "dev",
  false,
);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const program = require("./index") as typeof import("./index");
let resolved: object = {};
pulumi.all([pulumi.all(program.runtimeEndpoints), program.refusedInput]).apply(([runtimeEndpoints, refusedInput]) => {
  resolved = { runtimeEndpoints, refusedInput };
});
// Once nothing is left to do, every registration has reached the monitor.
process.once("beforeExit", () => {
  process.stdout.write(`${JSON.stringify({ registrations, ...resolved })}\n`);
});
