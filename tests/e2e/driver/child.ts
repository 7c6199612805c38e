// Entry of the driver's child process (started by index.ts as `node --import tsx child.ts <args.json>`).
// One deployment per process, so the Pulumi runtime's global state never leaks between runs and a test can
// kill a run half-way. Talks to the parent over the IPC channel (ChildMessage).

import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { createUrn, Engine, unwrap, type RegisterInfo } from "./engine";
import type { ChildArgs, ChildMessage, InvokeHook, ProgramContext, ResourceHook } from "./types";
import { AliasCarrier, aliasesOf } from "./aliases";

const argsFile = process.argv[2];
if (!argsFile) throw new Error("usage: child.ts <args.json>");
const args = JSON.parse(fs.readFileSync(argsFile, "utf8")) as ChildArgs;

function send(m: ChildMessage): void {
  if (process.send && process.connected) process.send(m);
}

function sendAndFlush(m: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

// ---- Pulumi runtime internals the mocks need (same module instances as @pulumi/pulumi uses) ----
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
/* eslint-disable @typescript-eslint/no-require-imports */
const mocksModule = require(path.join(pulumiDir, "runtime/mocks.js")) as { MockMonitor: { prototype: MonitorProto } };
const resproto = require(path.join(pulumiDir, "proto/resource_pb.js")) as {
  RegisterResourceResponse: new () => {
    setUrn(u: string): void;
    setId(i: string): void;
    setObject(o: unknown): void;
  };
};
const structpb = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] })) as {
  Struct: { fromJavaScript(o: unknown): unknown };
};
const settings = require(path.join(pulumiDir, "runtime/settings.js")) as { waitForRPCs(): Promise<void> };
const runtimeState = require(path.join(pulumiDir, "runtime/state.js")) as {
  getStore(): { leakCandidates: Set<unknown> };
};
/* eslint-enable @typescript-eslint/no-require-imports */

interface JsMap<V> {
  forEach(cb: (value: V, key: string) => void): void;
}
interface RegisterRequest extends AliasCarrier {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): JsMap<{ getUrnsList(): string[] }>;
  getDeletebeforereplace(): boolean;
  getDeletebeforereplacedefined(): boolean;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getImportid(): string;
}
interface MonitorProto {
  registerResource(req: RegisterRequest, cb: (err: unknown, resp?: unknown) => void): Promise<void>;
  registerResourceOutputs: (
    this: unknown,
    req: { getUrn(): string; getOutputs(): { toJavaScript(): Record<string, unknown> } | undefined },
    cb: (err: unknown, resp?: unknown) => void,
  ) => void;
}

// ---- hooks sent as source text ----
(globalThis as Record<string, unknown>).__name ??= (f: unknown) => f; // esbuild keepNames helper, if present
function compile<T>(src: string | undefined): T | undefined {
  if (!src) return undefined;
  return (0, eval)(`(${src})`) as T;
}
const invokeHook = compile<InvokeHook>(args.invokeSource);
const resourceHook = compile<ResourceHook>(args.resourceSource);

// ---- config (the language host passes it as PULUMI_CONFIG; set it again after setMocks for safety) ----
const secretValues: string[] = args.secretConfigKeys
  .map((k) => args.config[k])
  .filter((v): v is string => typeof v === "string");

const engine = new Engine({
  stateFile: args.stateFile,
  preview: args.preview,
  project: args.project,
  stack: args.stack,
  send,
  secretStrings: secretValues,
  resourceHook,
  stackReferences: args.stackReferences,
});

// With no engine connection the SDK's pulumi.log.warn prints `warning: [runtime] <message>`
// (sdk/nodejs/log/index.ts); the CLI would show it as a diagnostic, so it joins the warnings.
const consoleWarn = console.warn.bind(console);
console.warn = (...parts: unknown[]) => {
  const text = parts.map(String).join(" ");
  const match = /^warning: \[runtime\] ([^]*)$/.exec(text);
  if (match?.[1] !== undefined) engine.warnings.push(engine.mask(match[1]));
  consoleWarn(...parts);
};

const sdkErrors: string[] = [];
const onAsyncError = (e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  // A failed registration rejects the outputs of the resource and of everything waiting on it: those are
  // consequences of the error the engine already reported. Anything else is a program error, which fails
  // the deployment as the Node.js language host would.
  if (engine.failed) {
    sdkErrors.push(msg);
    return;
  }
  engine.programError(`program error: ${msg}`);
};
process.on("unhandledRejection", onAsyncError);
process.on("uncaughtException", onAsyncError);

function urnFor(parent: string, type: string, name: string): string {
  return createUrn(args.stack, args.project, parent, type, name);
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : strip(x)));
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = strip(x);
    return out;
  }
  return v;
}

// MockMonitor.registerResource passes only {type, name, inputs, provider, custom, id} to newResource; the
// request carries the options (parent, dependencies, deleteBeforeReplace, ...), so it is replaced here.
const proto = mocksModule.MockMonitor.prototype;
proto.registerResource = async function (this: { resources: Map<string, unknown> }, req, callback) {
  try {
    const type = req.getType();
    const name = req.getName();
    const parent = req.getParent();
    const urn = urnFor(parent, type, name);
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((v, k) => {
      propertyDependencies[k] = v.getUrnsList();
    });
    const info: RegisterInfo = {
      urn,
      type,
      name,
      parent,
      custom: req.getCustom(),
      inputs: req.getObject()?.toJavaScript() ?? {},
      dependencies: req.getDependenciesList(),
      propertyDependencies,
      ignoreChanges: req.getIgnorechangesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      protect: req.getProtect(),
      retainOnDelete: req.getRetainondelete(),
      importId: req.getImportid(),
      aliases: aliasesOf(req),
    };
    if (req.getDeletebeforereplacedefined()) info.deleteBeforeReplace = req.getDeletebeforereplace();
    const out = await engine.register(info);
    const state = strip(out.outputs);
    this.resources.set(urn, { urn, id: out.id ?? null, state });
    const response = new resproto.RegisterResourceResponse();
    response.setUrn(urn);
    response.setId(out.id ?? "");
    response.setObject(structpb.Struct.fromJavaScript(state));
    callback(null, response);
  } catch (err) {
    callback(err, undefined);
  }
};
const origOutputs = proto.registerResourceOutputs;
proto.registerResourceOutputs = function (this: unknown, req, callback) {
  try {
    engine.registerOutputs(req.getUrn(), req.getOutputs()?.toJavaScript() ?? {});
  } catch {
    // the resource failed to register; the original reports it
  }
  origOutputs.call(this, req, callback);
};

interface OutputInternals {
  promise(withUnknowns?: boolean): Promise<unknown>;
  isKnown: Promise<boolean>;
  isSecret: Promise<boolean>;
}

interface StackOutputs {
  outputs: Record<string, unknown>;
  secretOutputs: string[];
  /** Names not settled yet. */
  pending: Set<string>;
}

/** Resolves the exported values (Outputs unwrapped deeply, secretness kept), filling `into` as they settle. */
async function resolveStackOutputs(exported: Record<string, unknown>, into: StackOutputs): Promise<void> {
  const keys = Object.keys(exported).filter((k) => k !== "default" && k !== "__esModule");
  keys.forEach((k) => into.pending.add(k));
  await Promise.all(
    keys.map(async (k) => {
      const o = pulumi.output(exported[k]) as unknown as OutputInternals;
      try {
        const [value, secret] = await Promise.all([o.promise(), o.isSecret]);
        into.outputs[k] = value;
        if (secret) into.secretOutputs.push(k);
      } catch (e) {
        if (!engine.failed) engine.programError(`stack output ${k}: ${(e as Error).message}`);
      } finally {
        into.pending.delete(k);
      }
    }),
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long the engine must be idle (no step running, no registration arriving) before RPCs the SDK still
 * holds open are taken as never completing: briefly after a failed step, much longer otherwise. */
const STUCK_AFTER_FAILURE_MS = 300;
const STUCK_MS = 30_000;

/** Resolves once the engine has been idle for the quiet period (checked as it goes, so a step failing
 * meanwhile shortens it); cancel() stops the polling. */
function engineIdle(): { idle: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      const quiet = engine.failed ? STUCK_AFTER_FAILURE_MS : STUCK_MS;
      if (engine.inFlight === 0 && Date.now() - engine.lastActivity >= quiet) resolve();
    }, 50);
  });
  return { idle, cancel: () => clearInterval(timer) };
}

/** waitForRPCs, or false once the engine has been idle long enough that the outstanding RPCs never finish. */
async function waitForRPCsOrStuck(): Promise<boolean> {
  const watch = engineIdle();
  try {
    return await Promise.race([settings.waitForRPCs().then(() => true), watch.idle.then(() => false)]);
  } finally {
    watch.cancel();
  }
}

/** Waits until no registration or other RPC is outstanding, including resources declared inside applies
 * that run after an earlier registration completed.
 *
 * The SDK keeps an RPC open (rpcKeepAlive) until its inputs settle, and waitForRPCs waits for all of them in a
 * chain. After a failed step some never settle: a resource whose dependency failed is never registered and
 * its outputs stay pending forever (prepareResource rejects, nothing resolves them), so a component's
 * registerOutputs over such an output (ContainerdWorker's runtimeVersion from its verify step's stdout)
 * holds its RPC, and every later one behind it, for good. pulumi up ends there all the same: the engine stops
 * and the language host goes with it. So once a step has failed and the engine is idle (nothing running,
 * nothing arriving), what is still outstanding is abandoned; without a failure, that takes STUCK_MS and is a
 * program error (the Node.js language host would exit on an empty event loop and report the leaked promises). */
async function drain(): Promise<void> {
  for (;;) {
    const before = engine.registrations;
    if (!(await waitForRPCsOrStuck())) break;
    await sleep(20);
    if (engine.registrations !== before) continue;
    if (!(await waitForRPCsOrStuck())) break;
    return;
  }
  if (!engine.failed) {
    engine.programError(
      `program error: the program still has resource operations outstanding after ${STUCK_MS / 1000}s with nothing ` +
        `running (an input or registerOutputs value that never settles)`,
    );
  }
}

let programStartedAt: number | undefined;

async function runProgram(): Promise<Record<string, unknown>> {
  if (args.programKind === "inline") {
    const fn = compile<(ctx: ProgramContext) => unknown>(args.program);
    if (typeof fn !== "function") throw new Error("inline program is not a function");
    const ctx: ProgramContext = { pulumi, command, params: args.params, require };
    const result = await fn(ctx);
    return typeof result === "object" && result !== null ? (result as Record<string, unknown>) : {};
  }
  // The Node.js language host: require the module; a default export that is a function is called and its
  // result is the outputs; otherwise the module's exports are.
  programStartedAt = Date.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(args.program) as unknown;
  let result: unknown = mod;
  if (typeof mod === "function") result = await (mod as () => unknown)();
  else if (typeof mod === "object" && mod !== null && typeof (mod as { default?: unknown }).default === "function") {
    result = await (mod as { default: () => unknown }).default();
  }
  return typeof result === "object" && result !== null ? (result as Record<string, unknown>) : {};
}

async function main(): Promise<void> {
  // Keep the event loop alive: when a promise the driver awaits can never settle, Node would otherwise exit
  // silently (with the SDK's promise-leak report) instead of reporting.
  setInterval(() => undefined, 1000);
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => ({ id: a.id || `${a.name}-id`, state: a.inputs as Record<string, unknown> }), // readResource (Resource.get) only
      call: (a) => {
        if (invokeHook) {
          const r = invokeHook({ token: a.token, inputs: unwrap(a.inputs) as Record<string, unknown> });
          if (r !== undefined) return r as Record<string, unknown>;
        }
        return a.inputs as Record<string, unknown>;
      },
    },
    args.project,
    args.stack,
    args.preview,
  );
  pulumi.runtime.setAllConfig(args.config, args.secretConfigKeys);

  let outputs: Record<string, unknown> = {};
  let secretOutputs: string[] = [];
  if (args.destroy) {
    await engine.destroy();
  } else {
    let exported: Record<string, unknown> = {};
    try {
      exported = await runProgram();
    } catch (e) {
      // Resources registered before the error still complete (their RPCs are awaited below).
      if (!engine.failed) engine.programError(`program error: ${e instanceof Error ? e.message : String(e)}`);
    }
    const stackOutputs: StackOutputs = { outputs: {}, secretOutputs: [], pending: new Set() };
    const settled = resolveStackOutputs(exported, stackOutputs);
    await drain();
    // Once nothing is outstanding, an unsettled output never will settle: the SDK (3.248 and 3.276) leaves the outputs
    // of a resource whose dependency failed pending forever (prepareResource rejects, nothing resolves them).
    const inTime = await Promise.race([
      settled.then(() => true),
      sleep(engine.failed ? 300 : 10_000).then(() => false),
    ]);
    if (!inTime && !engine.failed) {
      engine.programError(`stack outputs never resolved: ${[...stackOutputs.pending].join(", ")}`);
    }
    ({ outputs, secretOutputs } = stackOutputs);
    await engine.finish();
  }
  const stats = engine.stats();
  // Outputs go to the test as values (secret ones included); the child never prints them.
  await sendAndFlush({
    type: "result",
    result: {
      ok: engine.errors.length === 0,
      ...(engine.errors[0] !== undefined ? { error: engine.errors[0] } : {}),
      errors: engine.errors,
      warnings: engine.warnings,
      outputs,
      secretOutputs: secretOutputs.sort(),
      operations: engine.ops,
      sshConnections: stats.sshConnections,
      dialAttempts: stats.dialAttempts,
      skipped: engine.skipped,
      programStartedAt,
    },
  });
}

main()
  .catch(async (e) => {
    engine.programError(`driver error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    await sendAndFlush({
      type: "result",
      result: {
        ok: false,
        error: engine.errors[0],
        errors: engine.errors,
        warnings: engine.warnings,
        outputs: {},
        secretOutputs: [],
        operations: engine.ops,
        ...engine.stats(),
        skipped: engine.skipped,
      },
    });
  })
  .finally(() => {
    // After a failed step the SDK leaves the outputs of resources that depended on it pending; its exit-time
    // promise-leak report would only repeat that.
    if (engine.failed) runtimeState.getStore().leakCandidates = new Set();
    // The result is flushed; leave even if SDK handles would keep the event loop alive.
    process.exit(0);
  });
