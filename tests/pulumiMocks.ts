/**
 * Pulumi mocks for the resource-graph tests: records every registration with
 * its parent and explicit dependencies, and resolves Outputs for assertions.
 * These tests never stand in for running a script; the e2e suite does that.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { AliasCarrier, aliasesOf } from "./e2e/driver/aliases";

interface SourcePosition {
  getUri(): string;
}

interface RegisterRequest extends AliasCarrier {
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getSourceposition(): SourcePosition | undefined;
  getStacktrace(): { getFramesList(): { getPc(): SourcePosition | undefined }[] } | undefined;
}

/** An alias as the register request carries it: a URN, or a spec whose empty fields mean "as the resource". */
export type RegisteredAlias =
  | { urn: string }
  | { name: string; type: string; stack: string; project: string; parentUrn: string; noParent: boolean };

function registeredAliases(req: RegisterRequest): RegisteredAlias[] {
  return aliasesOf(req).map((alias) => ("spec" in alias ? alias.spec : alias));
}

function nameOfUrn(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

export interface Registration {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Name of the parent resource, if any. */
  parent?: string;
  /** Names of the explicit `dependsOn` resources. */
  dependsOn: string[];
  /** The aliases the resource registered with (the mock monitor takes alias specs, as the engine does). */
  aliases: RegisteredAlias[];
  /** Where the engine is told the resource was made: the file of its source position, and its stack's files. */
  sourcePosition?: string;
  stackTrace: string[];
}

export interface MockOptions {
  /** The project name, which namespaces config keys (default `containerd-workers`). */
  project?: string;
  preview?: boolean;
  /** The state a resource reports back (e.g. a command's stdout); inputs are echoed by default. */
  outputsFor?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown>;
  /** Answers to invokes such as `aws:ec2/getAmi:getAmi`. */
  call?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown>;
}

/** Wraps a secret the way the mock monitor hands it to `newResource`. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

export function isSecretValue(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] !== undefined;
}

export interface MockedRun {
  registrations: Registration[];
  calls: { token: string; inputs: Record<string, unknown> }[];
  byName(name: string): Registration;
}

export function installMocks(options: MockOptions = {}): MockedRun {
  const registrations: Registration[] = [];
  const calls: MockedRun["calls"] = [];
  const graph = new Map<
    string,
    Pick<Registration, "parent" | "dependsOn" | "aliases" | "sourcePosition" | "stackTrace">
  >();

  // Resource options don't reach `newResource`; the register request carries them.
  const prototype = MockMonitor.prototype;
  const original = Object.getOwnPropertyDescriptor(prototype, "registerResource")?.value as (
    this: MockMonitor,
    req: RegisterRequest,
    callback: (err: unknown, response: unknown) => void,
  ) => Promise<void>;
  prototype.registerResource = function (this: MockMonitor, req: RegisterRequest, callback) {
    graph.set(req.getName(), {
      parent: req.getParent() ? nameOfUrn(req.getParent()) : undefined,
      dependsOn: req.getDependenciesList().map(nameOfUrn),
      aliases: registeredAliases(req),
      sourcePosition: req.getSourceposition()?.getUri(),
      stackTrace: (req.getStacktrace()?.getFramesList() ?? []).map((frame) => frame.getPc()?.getUri() ?? ""),
    });
    return original.call(this, req, callback);
  };

  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const edges = graph.get(args.name) ?? { dependsOn: [], aliases: [], stackTrace: [] };
        registrations.push({ type: args.type, name: args.name, inputs, ...edges });
        const extra = options.outputsFor?.(args.type, args.name, inputs) ?? {};
        return { id: `${args.name}-id`, state: { ...inputs, ...extra } };
      },
      call(args) {
        const inputs = args.inputs as Record<string, unknown>;
        calls.push({ token: args.token, inputs });
        return options.call?.(args.token, inputs) ?? {};
      },
    },
    options.project ?? "containerd-workers",
    "test",
    options.preview ?? false,
  );

  return {
    registrations,
    calls,
    byName(name) {
      const found = registrations.find((registration) => registration.name === name);
      if (!found) throw new Error(`no resource named ${name}; have ${registrations.map((r) => r.name).join(", ")}`);
      return found;
    },
  };
}

/** The value of an Output, once known. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Waits until every registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
