// The e2e driver: plays the Pulumi engine and the pulumi-command provider for a Pulumi program, running
// every remote.Command over real SSH. Each deployment runs in a fresh child process (child.ts) under
// pulumi.runtime.setMocks; see README.md in this directory for the rules it follows and their sources.
//
//   const r = await runDeployment({ program: (ctx) => { new ctx.command.remote.Command(...); return {...} },
//                                   params: {...}, stateFile });
//   r.ok, r.error, r.outputs, r.operations, r.sshConnections
//
// startDeployment() returns the child's pid and a kill() for tests that interrupt a run.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { parse as parseYaml } from "yaml";
import type { ChildArgs, ChildMessage, DeploymentOptions, DeploymentResult, OperationRecord, StateFile } from "./types";

export * from "./types";
export { runRemoteCommand, dialWithRetry, RemoteCommandError, goQuote } from "./ssh";
export { PULUMI_COMMAND_VERSION } from "./engine";
export type { ConnectionInputs, ProxyConnectionInputs, CommandResult } from "./ssh";

const DRIVER_DIR = __dirname;
const CHILD_ENTRY = path.join(DRIVER_DIR, "child.ts");

function projectRoot(): string {
  let dir = DRIVER_DIR;
  for (;;) {
    if (fs.existsSync(path.join(dir, "node_modules", "tsx", "package.json"))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error("driver: cannot find node_modules/tsx above " + DRIVER_DIR);
    dir = up;
  }
}

export interface DeploymentHandle {
  /** PID of the child process running the deployment. */
  pid: number;
  /** Kill the child (default SIGKILL), e.g. in the middle of a command. */
  kill(signal?: NodeJS.Signals): void;
  done: Promise<DeploymentResult>;
}

function buildArgs<P>(opts: DeploymentOptions<P>, project: string, stack: string): ChildArgs {
  const config: Record<string, string> = {};
  const secretConfigKeys: string[] = [];
  for (const [rawKey, v] of Object.entries(opts.config ?? {})) {
    const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
    if (typeof v === "object" && v !== null && "secret" in v) {
      config[key] = v.secret;
      secretConfigKeys.push(key);
    } else {
      config[key] = typeof v === "string" ? v : JSON.stringify(v);
    }
  }
  let programKind: ChildArgs["programKind"] = "none";
  let program = "";
  if (typeof opts.program === "function") {
    programKind = "inline";
    program = opts.program.toString();
  } else if (typeof opts.program === "string") {
    programKind = "module";
    program = path.resolve(opts.program);
  } else if (!opts.destroy) {
    throw new Error("runDeployment: `program` is required unless destroy is set");
  }
  return {
    programKind,
    program,
    params: opts.params ?? null,
    stateFile: path.resolve(opts.stateFile),
    preview: opts.preview === true,
    destroy: opts.destroy === true,
    project,
    stack,
    config,
    secretConfigKeys,
    ...(opts.invoke ? { invokeSource: opts.invoke.toString() } : {}),
    ...(opts.resource ? { resourceSource: opts.resource.toString() } : {}),
    stackReferences: opts.stackReferences ?? {},
  };
}

interface ProjectFile {
  name?: unknown;
  config?: Record<string, unknown>;
}

/** The Pulumi.yaml governing a program module (searched upward from the module's directory). */
export function findProjectFile(
  programPath: string,
): { file: string; name: string; defaults: Record<string, string> } | undefined {
  let dir = path.dirname(path.resolve(programPath));
  for (;;) {
    for (const f of ["Pulumi.yaml", "Pulumi.yml"]) {
      const file = path.join(dir, f);
      if (!fs.existsSync(file)) continue;
      const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as ProjectFile;
      const name = typeof doc.name === "string" ? doc.name : "project";
      // Project-level config: a declared key's `default` (or a bare value) is what the CLI hands the program
      // when the stack sets nothing for it. Keys without a namespace belong to the project.
      const defaults: Record<string, string> = {};
      for (const [k, v] of Object.entries(doc.config ?? {})) {
        const key = k.includes(":") ? k : `${name}:${k}`;
        const value =
          typeof v === "object" && v !== null && !Array.isArray(v)
            ? ((v as { default?: unknown; value?: unknown }).default ?? (v as { value?: unknown }).value)
            : v;
        if (value === undefined || value === null) continue;
        defaults[key] = typeof value === "string" ? value : JSON.stringify(value);
      }
      return { file, name, defaults };
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export function startDeployment<P = unknown>(opts: DeploymentOptions<P>): DeploymentHandle {
  // A program module runs as its project: the name and the config defaults of its Pulumi.yaml apply.
  const projectFile = typeof opts.program === "string" ? findProjectFile(opts.program) : undefined;
  const project = opts.project ?? projectFile?.name ?? "project";
  const stack = opts.stack ?? "stack";
  const childArgs = buildArgs(opts, project, stack);
  if (projectFile && (opts.project === undefined || opts.project === projectFile.name)) {
    childArgs.config = { ...projectFile.defaults, ...childArgs.config };
  }
  const argsDir = fs.mkdtempSync(path.join(os.tmpdir(), "driver-args-"));
  const argsFile = path.join(argsDir, "args.json");
  fs.writeFileSync(argsFile, JSON.stringify(childArgs), { mode: 0o600 });

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  // How the Node.js language host hands config to a program.
  env.PULUMI_CONFIG = JSON.stringify(childArgs.config);
  env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(childArgs.secretConfigKeys);
  // Loaders injected by a test runner must not leak into the child.
  delete env.NODE_OPTIONS;

  // `node --import tsx` rather than `npx tsx`: one process (npx and the tsx CLI each add a parent), so the
  // pid is the deployment and kill() interrupts it for real.
  const child = spawn(process.execPath, ["--import", "tsx", CHILD_ENTRY, argsFile], {
    cwd: projectRoot(),
    env,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  if (child.pid === undefined) throw new Error("driver: failed to start the child process");
  const pid = child.pid;

  let log = "";
  const append = (d: Buffer) => {
    if (log.length < 1_000_000) log += d.toString();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);

  const ended: OperationRecord[] = [];
  let result: Extract<ChildMessage, { type: "result" }>["result"] | undefined;
  child.on("message", (m: ChildMessage) => {
    if (m.type === "event") {
      if (m.event.kind === "end") ended.push(m.event.record);
      try {
        opts.onOperation?.(m.event);
      } catch {
        // a throwing callback must not break the driver
      }
    } else if (m.type === "result") {
      result = m.result;
    }
  });

  let timer: NodeJS.Timeout | undefined;
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
  }

  const done = new Promise<DeploymentResult>((resolve) => {
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      fs.rmSync(argsDir, { recursive: true, force: true });
      if (result) {
        resolve({ ...result, exitCode: code, signal, log });
        return;
      }
      const error = `driver: the deployment process exited (code ${String(code)}, signal ${String(signal)}) before reporting a result`;
      resolve({
        ok: false,
        error,
        errors: [error],
        warnings: [],
        outputs: {},
        secretOutputs: [],
        operations: ended,
        sshConnections: 0,
        dialAttempts: 0,
        skipped: [],
        exitCode: code,
        signal,
        log,
      });
    });
  });

  return {
    pid,
    kill: (signal: NodeJS.Signals = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal);
    },
    done,
  };
}

/** Runs one deployment (up, preview or destroy) in a fresh child process. */
export function runDeployment<P = unknown>(opts: DeploymentOptions<P>): Promise<DeploymentResult> {
  return startDeployment(opts).done;
}

/** Reads a state file written by the driver (undefined when there is none yet). */
export function readState(stateFile: string): StateFile | undefined {
  if (!fs.existsSync(stateFile)) return undefined;
  return JSON.parse(fs.readFileSync(stateFile, "utf8")) as StateFile;
}

/** Operations that ran a script (create/update/delete), in start order. */
export function commandsRun(r: { operations: OperationRecord[] }): OperationRecord[] {
  return r.operations.filter((o) => o.command !== undefined && !o.planned).sort((a, b) => a.startedAt - b.startedAt);
}
