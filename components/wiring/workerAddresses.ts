/**
 * One machine, one ContainerdWorker: two components for the same host and
 * port would install, repair and remove the same files against each other
 * (and each would see the other's writes as host drift). Where a connection's
 * host and port are plain values, the component claims them at construction.
 *
 * The claims are per program: kept on `globalThis` under a `Symbol.for` key
 * (shared by every copy of this module) and per Pulumi resource monitor, of
 * which a program has one (and each `setMocks` a new one).
 */
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError } from "../inputs/errors";

interface Hop {
  host: string;
  port?: number;
}

/** A worker's host and port, and its bastion's. */
export type WorkerAddress = Hop & { proxy?: Hop };

interface Claims {
  byMonitor: WeakMap<object, Map<string, string>>;
  /** For a program with no monitor (nothing registers there anyway). */
  none: Map<string, string>;
}

const CLAIMS = Symbol.for("containerd-worker:worker-addresses");

function claimsOfThisProgram(): Map<string, string> {
  const global = globalThis as { [CLAIMS]?: Claims };
  const claims = (global[CLAIMS] ??= {
    byMonitor: new WeakMap<object, Map<string, string>>(),
    none: new Map<string, string>(),
  });
  const monitor = pulumi.runtime.getMonitor();
  if (monitor === undefined) return claims.none;
  let program = claims.byMonitor.get(monitor);
  if (program === undefined) claims.byMonitor.set(monitor, (program = new Map<string, string>()));
  return program;
}

/** `host:port` as ssh would print it (IPv6 in brackets), lower case. */
export function hostPort(hop: Hop): string {
  const host = hop.host.trim().toLowerCase();
  return `${host.includes(":") ? `[${host}]` : host}:${hop.port ?? 22}`;
}

/**
 * Claims the worker's address for component `name`; throws an InvalidInputError naming the
 * component that has it. Behind a bastion the address is the bastion's view, so it counts with it.
 */
export function claimWorkerAddress(name: string, target: WorkerAddress): void {
  const address = hostPort(target);
  const key = target.proxy === undefined ? address : `${address} through ${hostPort(target.proxy)}`;
  const claims = claimsOfThisProgram();
  const owner = claims.get(key);
  // The same name again is the engine's to refuse (a duplicate URN).
  if (owner !== undefined && owner !== name) {
    throw new InvalidInputError(
      "connection",
      `${key} is already the worker of ContainerdWorker ${owner}; ` +
        "one machine needs one component, or the two would install and repair the same files against each other",
    );
  }
  claims.set(key, name);
}
