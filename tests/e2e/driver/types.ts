// Types shared by the driver's parent side (index.ts), its child process (child.ts / engine.ts)
// and the SSH runner (ssh.ts). Nothing in here runs.

import type * as pulumiType from "@pulumi/pulumi";
import type * as commandType from "@pulumi/command";

/** What an inline program receives. The function is sent to a fresh child process as source text
 * (`fn.toString()`), so it must be self-contained: reach Pulumi through `ctx`, values through `ctx.params`. */
export interface ProgramContext<P = unknown> {
  pulumi: typeof pulumiType;
  command: typeof commandType;
  /** JSON value given as `params` to runDeployment. */
  params: P;
  /** `require` of the child, resolving from the project root (e.g. `ctx.require("node:path")`). */
  require: NodeJS.Require;
}

/** An inline program: declares resources; what it returns (an object) becomes the stack outputs. */
export type InlineProgram<P = unknown> = (ctx: ProgramContext<P>) => unknown;

/** Result of an invoke hook or resource hook; `undefined` means "use the default". */
export type InvokeHook = (args: { token: string; inputs: Record<string, unknown> }) => unknown;
export type ResourceHook = (args: {
  type: string;
  name: string;
  urn: string;
  inputs: Record<string, unknown>;
}) => Record<string, unknown> | undefined;

/** A config value: a plain string (non-strings are JSON-encoded, as `pulumi config set --path` would store
 * them), or `{ secret: ... }` for `pulumi config set --secret`. */
export type ConfigValue = string | number | boolean | { secret: string };

export interface DeploymentOptions<P = unknown> {
  /** An inline program (see InlineProgram), or the path of a program module (e.g. the project's index.ts):
   * its module exports are the stack outputs (a default-exported function is called, as the Node.js
   * language host does). */
  program?: InlineProgram<P> | string;
  /** JSON-serialisable value handed to an inline program as `ctx.params`. */
  params?: P;
  /** Where the state lives between runs (JSON, written atomically after every step). */
  stateFile: string;
  /** Run nothing; report the planned operation per resource. State is not written. */
  preview?: boolean;
  /** Delete everything in state in reverse dependency order (the program is not run, as `pulumi destroy`). */
  destroy?: boolean;
  /** Stack config; keys `project:key` (a key without `:` gets the project prefix). For a program module,
   * the `config:` defaults of its Pulumi.yaml are applied under these, as the CLI does. */
  config?: Record<string, ConfigValue>;
  /** Default: the `name` of the program module's Pulumi.yaml, else "project". */
  project?: string;
  /** Default "stack". */
  stack?: string;
  /** Results for invokes (e.g. `aws:ec2/getAmi:getAmi`). Sent as source text like an inline program. */
  invoke?: InvokeHook;
  /** Extra outputs for non-command resources (merged over their inputs). Sent as source text. */
  resource?: ResourceHook;
  /** Outputs of `pulumi.StackReference`s, by stack name. */
  stackReferences?: Record<string, Record<string, unknown>>;
  /** Called in the parent for every operation start/end, live. */
  onOperation?: (event: OperationEvent) => void;
  /** Extra environment for the child process. */
  env?: Record<string, string | undefined>;
  /** Kill the child after this long (default: none). */
  timeoutMs?: number;
}

export type OpKind = "create" | "update" | "delete" | "replace" | "same";
export type CommandKind = "create" | "update" | "delete";

export interface OperationRecord {
  urn: string;
  name: string;
  type: string;
  op: OpKind;
  /** Which of the resource's scripts ran; absent when no script ran (e.g. `delete` not set, or "same"). */
  command?: CommandKind;
  /** Epoch milliseconds. */
  startedAt: number;
  endedAt: number;
  stdout: string;
  stderr: string;
  exitCode: number | null;
  /** The error the user sees, when the step failed. */
  error?: string;
  warnings?: string[];
  /** Preview only: the step is planned, nothing ran. */
  planned?: boolean;
  /** Top-level inputs whose value differs from the state (update/replace), for preview and up. */
  diffs?: string[];
  /** Of `diffs`, those that force a replacement. */
  replaceKeys?: string[];
  /** For replacements: whether the old resource is deleted first. */
  deleteBeforeReplace?: boolean;
}

export type OperationEvent =
  | { kind: "start"; urn: string; name: string; type: string; op: OpKind; command?: CommandKind; startedAt: number }
  | { kind: "end"; record: OperationRecord };

export interface DeploymentResult {
  ok: boolean;
  /** First error, as a user would see it: names the resource and carries the command's output. */
  error?: string;
  /** Every error seen (the first one first). */
  errors: string[];
  warnings: string[];
  /** Stack outputs, Outputs unwrapped. */
  outputs: Record<string, unknown>;
  /** Names of the stack outputs that are secret. */
  secretOutputs: string[];
  operations: OperationRecord[];
  /** SSH connections established (handshakes completed), proxy hops included. */
  sshConnections: number;
  /** TCP/SSH dial attempts, failed ones included. */
  dialAttempts: number;
  /** Resources whose registration was refused because an earlier step had failed. */
  skipped: string[];
  /** When the child began loading the program (epoch ms): what came before is Node, tsx, the SDK and the driver. */
  programStartedAt?: number;
  /** Child process exit code / signal, and what it wrote to stdout/stderr (for debugging). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  log: string;
}

// ---- state file ----

export interface StateResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  id?: string;
  /** Inputs in wire form (secrets as `{4dabf18193072939515e22adb298388d: "1b47…", value}`). */
  inputs: Record<string, unknown>;
  /** Outputs in wire form. For command:remote:Command: the inputs plus stdout and stderr. */
  outputs: Record<string, unknown>;
  dependencies: string[];
  propertyDependencies?: Record<string, string[]>;
  parent?: string;
  deleteBeforeReplace?: boolean;
  replaceOnChanges?: string[];
  ignoreChanges?: string[];
  additionalSecretOutputs?: string[];
  protect?: boolean;
  retainOnDelete?: boolean;
  /** A replaced resource waiting for its delete (create-before-delete replacement). */
  delete?: boolean;
  /** Deleted by a delete-before-replace; its replacement has not been created yet. */
  pendingReplacement?: boolean;
}

export interface PendingOperation {
  urn: string;
  type: string;
  op: "creating" | "updating" | "deleting";
  startedAt: number;
}

export interface StateFile {
  version: 1;
  project: string;
  stack: string;
  resources: StateResource[];
  /** Steps started and not finished (a killed run leaves them here, like Pulumi's checkpoint). */
  pendingOperations: PendingOperation[];
}

// ---- parent <-> child protocol ----

export interface ChildArgs {
  programKind: "inline" | "module" | "none";
  /** Source text of the inline program, or the absolute path of the module. */
  program: string;
  params: unknown;
  stateFile: string;
  preview: boolean;
  destroy: boolean;
  project: string;
  stack: string;
  config: Record<string, string>;
  secretConfigKeys: string[];
  invokeSource?: string;
  resourceSource?: string;
  stackReferences: Record<string, Record<string, unknown>>;
}

export type ChildMessage =
  | { type: "event"; event: OperationEvent }
  | { type: "result"; result: Omit<DeploymentResult, "exitCode" | "signal" | "log"> };
