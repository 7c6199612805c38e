// The part of the driver that plays the Pulumi engine and the pulumi-command provider, inside the child
// process. child.ts routes every RegisterResource request of the mocked monitor here.
//
// Sources checked (paths in the GitHub repositories; versions: pulumi-command v1.2.1 == 010bd8e0 for these
// files, pulumi-go-provider v1.3.0 (what pulumi-command v1.2.1 builds with), pulumi/pulumi master
// 00285a9b):
//  [CC]  pulumi-command  provider/pkg/provider/remote/commandController.go   Create / Update / Delete
//  [CO]  pulumi-command  provider/pkg/provider/remote/commandOutputs.go      run()
//  [CI]  pulumi-command  provider/pkg/provider/common/inputs.go              Triggers `replaceOnChanges`
//  [CMD] @pulumi/command 1.2.1 remote/command.js  (SDK: connection wrapped in pulumi.secret,
//        additionalSecretOutputs ["connection"], replaceOnChanges ["triggers[*]"])
//  [IR]  pulumi-go-provider infer/resource.go  diff(), Create/Update (no partial state unless the resource
//        returns ResourceInitFailedError, which pulumi-command never does), markComputed/markSecret
//  [SG]  pulumi  pkg/resource/deploy/step_generator.go  continueStepsFromDiff (replace vs update,
//        deleteBeforeReplace), GenerateDeletes, ScheduleDeletes; generateSteps, generateAliases,
//        collapseAliasToUrn, inheritedChildAlias (aliases)

import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { runRemoteCommand, sshStats, RemoteCommandError, type ConnectionInputs } from "./ssh";
import type {
  ChildMessage,
  CommandKind,
  OperationRecord,
  OpKind,
  PendingOperation,
  StateFile,
  StateResource,
} from "./types";

/**
 * The @pulumi/command release whose provider rules this driver encodes (the sources above). package.json pins
 * exactly this version, and tests/pulumiCommandPin.test.ts fails if node_modules holds another: a different
 * provider would run under an emulator that no longer describes it. Moving to a new release means checking
 * these rules against its sources first, then changing the pin and this constant together.
 */
export const PULUMI_COMMAND_VERSION = "1.2.1";

export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const COMMAND_TYPE = "command:remote:Command";

/** Marks an unknown value (preview) after unwrapping. */
export const UNKNOWN_VALUE: unique symbol = Symbol("unknown");

type Plain = Record<string, unknown>;

export function isSecretWire(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Plain)[SIG_KEY] === SECRET_SIG;
}

/** Wire form -> plain values: secrets unwrapped (their strings collected), unknowns -> UNKNOWN_VALUE. */
export function unwrap(v: unknown, secrets?: Set<string>, inSecret = false): unknown {
  if (v === UNKNOWN) return UNKNOWN_VALUE;
  if (isSecretWire(v)) return unwrap(v.value, secrets, true);
  if (Array.isArray(v)) return v.map((x) => unwrap(x, secrets, inSecret));
  if (typeof v === "object" && v !== null) {
    const out: Plain = {};
    for (const [k, x] of Object.entries(v)) out[k] = unwrap(x, secrets, inSecret);
    return out;
  }
  if (inSecret && typeof v === "string" && secrets) secrets.add(v);
  return v;
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === UNKNOWN_VALUE || b === UNKNOWN_VALUE) return false;
  if (a === b) return true;
  if (isAbsent(a) && isAbsent(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === "object" && typeof b === "object" && a !== null && b !== null) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!deepEqual((a as Plain)[k], (b as Plain)[k])) return false;
    return true;
  }
  return false;
}

/** "triggers[*]" / "a.b" / "a[0]" -> "a" (the driver diffs top-level inputs). */
function topKey(p: string): string {
  return p.split(/[.[]/)[0] ?? p;
}

function stripUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : stripUndefined(x)));
  if (typeof v === "object" && v !== null) {
    const out: Plain = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = stripUndefined(x);
    return out;
  }
  return v;
}

function secretWire(value: unknown): unknown {
  return isSecretWire(value) ? value : { [SIG_KEY]: SECRET_SIG, value };
}

/** An alias as the register request carries it: a URN, or a spec (empty fields: as the resource). With the
 * aliasSpecs feature (the mock monitor has it) the SDK sends specs and leaves the children's aliases to the engine. */
export type AliasInfo =
  | { urn: string }
  | { spec: { name: string; type: string; stack: string; project: string; parentUrn: string; noParent: boolean } };

/** Engine resource.CreateURN: the parent's qualified type chain + "$" + type (the root stack is not part of it). */
export function createUrn(stack: string, project: string, parent: string, type: string, name: string): string {
  let qualified = type;
  if (parent) {
    const parentType = parent.split("::")[2];
    if (parentType && parentType !== "pulumi:pulumi:Stack") qualified = `${parentType}$${type}`;
  }
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

/** A URN's parts: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`. */
function urnParts(urn: string): { stack: string; project: string; qualifiedType: string; type: string; name: string } {
  const [head = "", project = "", qualifiedType = "", ...rest] = urn.split("::");
  return {
    stack: head.slice("urn:pulumi:".length),
    project,
    qualifiedType,
    type: qualifiedType.split("$").pop() ?? qualifiedType,
    name: rest.join("::"),
  };
}

export interface RegisterInfo {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  /** Wire form (req.getObject().toJavaScript()). */
  inputs: Plain;
  dependencies: string[];
  propertyDependencies: Record<string, string[]>;
  deleteBeforeReplace?: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  protect: boolean;
  retainOnDelete: boolean;
  importId: string;
  aliases: AliasInfo[];
}

export interface RegisterOutcome {
  id?: string;
  outputs: Plain;
}

export interface EngineOptions {
  stateFile: string;
  preview: boolean;
  project: string;
  stack: string;
  send: (m: ChildMessage) => void;
  /** Strings never to print (secret config values). */
  secretStrings: Iterable<string>;
  resourceHook?: (args: { type: string; name: string; urn: string; inputs: Plain }) => Plain | undefined;
  stackReferences: Record<string, Record<string, unknown>>;
}

class SkippedError extends Error {}

export class Engine {
  readonly ops: OperationRecord[] = [];
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  readonly skipped: string[] = [];
  failed = false;
  private resources: StateResource[];
  private pending: PendingOperation[] = [];
  private readonly registered = new Set<string>();
  /** [SG] sg.aliases: the alias URN through which a registered resource found its old state, by its URN. */
  private readonly matchedAlias = new Map<string, string>();
  /** [SG] sg.aliased: old URNs taken over through an alias, and the URN that took each. */
  private readonly aliased = new Map<string, string>();
  private readonly secretStrings = new Set<string>();

  constructor(private readonly o: EngineOptions) {
    for (const s of o.secretStrings) this.addSecret(s);
    const loaded = Engine.load(o.stateFile);
    this.resources = loaded?.resources ?? [];
    for (const r of this.resources) this.collectSecrets(r.inputs, r.type);
    // A killed run leaves its in-flight steps here. Pulumi warns about such "pending operations" and goes
    // on: an interrupted create is not in the resource list (it never completed), an interrupted update or
    // delete leaves the resource with its old state, so running again converges.
    if (loaded && loaded.pendingOperations.length > 0) {
      for (const p of loaded.pendingOperations) {
        this.warnings.push(
          `${p.urn} was interrupted while ${p.op} (pending operation from a previous run); its state is the last completed one`,
        );
      }
    }
  }

  static load(file: string): StateFile | undefined {
    if (!fs.existsSync(file)) return undefined;
    const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as StateFile;
    parsed.pendingOperations ??= [];
    return parsed;
  }

  // ---------- secrets / messages ----------

  private addSecret(s: string): void {
    if (s.length >= 4) this.secretStrings.add(s);
  }

  /** Secret strings of a resource's inputs. The SDK wraps the whole `connection` of a Command in a secret
   * ([CMD]); of it, only the credentials are hidden (hiding the host or user would make messages useless). */
  private collectSecrets(wireInputs: Plain, type: string): void {
    const found = new Set<string>();
    for (const [k, v] of Object.entries(wireInputs)) {
      if (type === COMMAND_TYPE && k === "connection") {
        const c = unwrap(v) as Plain | undefined;
        const creds = (x: unknown) => {
          if (typeof x !== "object" || x === null) return;
          for (const f of ["privateKey", "password", "privateKeyPassword"]) {
            const s = (x as Plain)[f];
            if (typeof s === "string") found.add(s);
          }
        };
        creds(c);
        creds(c?.proxy);
        continue;
      }
      unwrap(v, found);
    }
    for (const s of found) this.addSecret(s);
  }

  mask(text: string): string {
    let out = text;
    for (const s of [...this.secretStrings].sort((a, b) => b.length - a.length)) out = out.split(s).join("[secret]");
    return out;
  }

  /** A program-level error (the program threw, an apply failed, ...): fails the deployment. */
  programError(message: string): void {
    this.fail(message);
  }

  private fail(message: string): void {
    const m = this.mask(message);
    this.errors.push(m);
    this.failed = true;
  }

  // ---------- state ----------

  private live(urn: string): StateResource | undefined {
    return this.resources.find((r) => r.urn === urn && !r.delete);
  }

  /** Topological order (dependencies and parent first), stable otherwise; written atomically. */
  save(): void {
    if (this.o.preview) return;
    const byUrn = new Map<string, StateResource[]>();
    for (const r of this.resources) byUrn.set(r.urn, [...(byUrn.get(r.urn) ?? []), r]);
    const done = new Set<StateResource>();
    const visiting = new Set<StateResource>();
    const ordered: StateResource[] = [];
    const visit = (r: StateResource) => {
      if (done.has(r) || visiting.has(r)) return;
      visiting.add(r);
      for (const d of [...r.dependencies, ...(r.parent ? [r.parent] : [])]) {
        for (const dep of byUrn.get(d) ?? []) if (dep !== r) visit(dep);
      }
      visiting.delete(r);
      done.add(r);
      ordered.push(r);
    };
    this.resources.forEach(visit);
    this.resources = ordered;
    const state: StateFile = {
      version: 1,
      project: this.o.project,
      stack: this.o.stack,
      resources: this.resources,
      pendingOperations: this.pending,
    };
    const dir = path.dirname(this.o.stateFile);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.${path.basename(this.o.stateFile)}.${process.pid}.tmp`);
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, JSON.stringify(state, null, 2));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.o.stateFile);
  }

  private beginPending(urn: string, type: string, op: PendingOperation["op"]): PendingOperation {
    const p: PendingOperation = { urn, type, op, startedAt: Date.now() };
    this.pending.push(p);
    this.save();
    return p;
  }

  private endPending(p: PendingOperation): void {
    this.pending = this.pending.filter((x) => x !== p);
  }

  // ---------- operations ----------

  private emitStart(r: { urn: string; name: string; type: string }, op: OpKind, command?: CommandKind): number {
    const startedAt = Date.now();
    this.o.send({
      type: "event",
      event: { kind: "start", urn: r.urn, name: r.name, type: r.type, op, command, startedAt },
    });
    return startedAt;
  }

  private record(rec: OperationRecord): OperationRecord {
    const masked: OperationRecord = {
      ...rec,
      stdout: this.mask(rec.stdout),
      stderr: this.mask(rec.stderr),
      ...(rec.error !== undefined ? { error: this.mask(rec.error) } : {}),
      ...(rec.warnings ? { warnings: rec.warnings.map((w) => this.mask(w)) } : {}),
    };
    this.ops.push(masked);
    this.o.send({ type: "event", event: { kind: "end", record: masked } });
    return masked;
  }

  /** Runs one script of a Command the way the provider's run() does ([CO]) and records the operation. */
  private async runScript(
    r: { urn: string; name: string; type: string },
    op: OpKind,
    command: CommandKind,
    script: string,
    props: Plain, // plain (unwrapped) CommandOutputs the provider runs with
    extra: Partial<OperationRecord> = {},
  ): Promise<{ stdout: string; stderr: string }> {
    const startedAt = this.emitStart(r, op, command);
    const warnings: string[] = [];
    const conn = props.connection as ConnectionInputs | undefined;
    try {
      if (!conn || typeof conn.host !== "string") throw new RemoteCommandError("connection.host is required", "config");
      const res = await runRemoteCommand(conn, script, {
        stdin: typeof props.stdin === "string" ? props.stdin : undefined,
        environment: (props.environment as Record<string, string> | undefined) ?? undefined,
        addPreviousOutputInEnv: props.addPreviousOutputInEnv !== false,
        previousStdout: typeof props.stdout === "string" ? props.stdout : "",
        previousStderr: typeof props.stderr === "string" ? props.stderr : "",
        onLog: (sev, m) => {
          if (sev !== "info") warnings.push(`${sev}: ${m}`);
        },
      });
      this.warnings.push(...warnings.map((w) => this.mask(`${r.type} (${r.name}): ${w}`)));
      this.record({
        urn: r.urn,
        name: r.name,
        type: r.type,
        op,
        command,
        startedAt,
        endedAt: Date.now(),
        stdout: res.stdout,
        stderr: res.stderr,
        exitCode: res.exitCode,
        ...(warnings.length ? { warnings } : {}),
        ...extra,
      });
      return { stdout: res.stdout, stderr: res.stderr };
    } catch (e) {
      const err =
        e instanceof RemoteCommandError ? e : new RemoteCommandError(String((e as Error)?.message ?? e), "exec");
      const message = `${r.type} (${r.name}): ${err.message}`;
      this.warnings.push(...warnings.map((w) => this.mask(`${r.type} (${r.name}): ${w}`)));
      const rec = this.record({
        urn: r.urn,
        name: r.name,
        type: r.type,
        op,
        command,
        startedAt,
        endedAt: Date.now(),
        stdout: err.stdout,
        stderr: err.stderr,
        exitCode: err.exitCode,
        error: message,
        ...(warnings.length ? { warnings } : {}),
        ...extra,
      });
      throw new Error(rec.error);
    }
  }

  private recordNoScript(
    r: { urn: string; name: string; type: string },
    op: OpKind,
    extra: Partial<OperationRecord> = {},
  ): void {
    const t = this.emitStart(r, op);
    this.record({
      urn: r.urn,
      name: r.name,
      type: r.type,
      op,
      startedAt: t,
      endedAt: Date.now(),
      stdout: "",
      stderr: "",
      exitCode: null,
      ...extra,
    });
  }

  // ---------- diff ----------

  /** Changed top-level inputs and which of them force a replacement.
   *  [IR] diff(): old inputs vs new inputs, every input property compared (connection, environment, stdin,
   *  logging, addPreviousOutputInEnv, create, update, delete, triggers); forceReplace for properties with
   *  `replaceOnChanges` in the schema — for remote.Command only `triggers` ([CI]). The engine adds the
   *  request's replaceOnChanges (the SDK sends "triggers[*]" [CMD]) in applyReplaceOnChanges [SG]. */
  private diff(old: StateResource, info: RegisterInfo): { diffs: string[]; replaceKeys: string[] } {
    const oldPlain = unwrap(old.inputs) as Plain;
    const newPlain = unwrap(info.inputs) as Plain;
    const keys = new Set([...Object.keys(oldPlain), ...Object.keys(newPlain)]);
    const ignore = new Set(info.ignoreChanges.map(topKey));
    const diffs: string[] = [];
    for (const k of keys) {
      if (k === "version" || k.startsWith("__") || ignore.has(k)) continue;
      if (!deepEqual(oldPlain[k], newPlain[k])) diffs.push(k);
    }
    const replaceOn = new Set(info.replaceOnChanges.map(topKey));
    if (info.type === COMMAND_TYPE) replaceOn.add("triggers");
    const replaceKeys = diffs.filter((k) => replaceOn.has(k) || replaceOn.has("*"));
    return { diffs, replaceKeys };
  }

  private applyIgnoreChanges(old: StateResource | undefined, info: RegisterInfo): void {
    // Engine: ignoreChanges keeps the old value of those properties (when there is one).
    if (!old) return;
    for (const p of info.ignoreChanges) {
      const k = topKey(p);
      if (k in old.inputs) info.inputs[k] = old.inputs[k];
    }
  }

  // ---------- register ----------

  /** Count of RegisterResource requests received (child.ts uses it to know the program has settled). */
  registrations = 0;
  /** RegisterResource requests not answered yet (steps running). */
  inFlight = 0;
  /** When a registration last arrived or was answered (Date.now()). */
  lastActivity = Date.now();

  async register(info: RegisterInfo): Promise<RegisterOutcome> {
    this.registrations++;
    this.inFlight++;
    this.lastActivity = Date.now();
    try {
      return await this.registerStep(info);
    } finally {
      this.inFlight--;
      this.lastActivity = Date.now();
    }
  }

  private async registerStep(info: RegisterInfo): Promise<RegisterOutcome> {
    if (this.registered.has(info.urn)) {
      throw new Error(`Duplicate resource URN '${info.urn}'; try giving it a unique name`);
    }
    this.registered.add(info.urn);
    // [SG] once a step has failed the engine issues no new steps; steps already running finish.
    if (this.failed) {
      this.skipped.push(info.urn);
      throw new SkippedError(
        `${info.type} (${info.name}): not registered: the deployment stopped after an earlier error`,
      );
    }
    this.collectSecrets(info.inputs, info.type);
    const old = this.findOld(info);
    this.applyIgnoreChanges(old, info);
    try {
      if (info.type === COMMAND_TYPE && info.custom) return await this.registerCommand(info, old);
      return this.registerOther(info, old);
    } catch (e) {
      if (!(e instanceof SkippedError)) this.fail((e as Error).message);
      throw e;
    }
  }

  // ---------- aliases ----------

  /** [SG] collapseAliasToUrn: a spec's empty fields are the resource's own; an explicit parent that itself
   * matched an alias stands for its old URN; the root stack as parent is no parent. */
  private collapseAlias(info: RegisterInfo, alias: AliasInfo): string {
    if ("urn" in alias) return alias.urn;
    const { spec } = alias;
    let parent = spec.parentUrn || info.parent;
    if (spec.parentUrn) parent = this.matchedAlias.get(spec.parentUrn) ?? parent;
    if (spec.noParent || (parent && urnParts(parent).qualifiedType === "pulumi:pulumi:Stack")) parent = "";
    return createUrn(
      spec.stack || this.o.stack,
      spec.project || this.o.project,
      parent,
      spec.type || info.type,
      spec.name || info.name,
    );
  }

  /** [SG] inheritedChildAlias: the child under the parent's old URN; a name prefixed with the parent's name gets
   * the old parent's name as its prefix (`${name}-ready` follows its component's rename). */
  private inheritedChildAlias(childType: string, childName: string, parentName: string, parentAlias: string): string {
    const old = urnParts(parentAlias);
    const name = childName.startsWith(parentName) ? old.name + childName.slice(parentName.length) : childName;
    return `urn:pulumi:${this.o.stack}::${this.o.project}::${old.qualifiedType}$${childType}::${name}`;
  }

  /** [SG] generateAliases: the resource's own aliases, then, when its parent matched an alias, the child's URN
   * (and each of its aliases) under that old parent URN. */
  private aliasUrns(info: RegisterInfo): string[] {
    const out: string[] = [];
    const add = (urn: string) => void (out.includes(urn) || out.push(urn));
    const own = info.aliases.map((a) => this.collapseAlias(info, a));
    own.forEach(add);
    const parentAlias = info.parent ? this.matchedAlias.get(info.parent) : undefined;
    if (parentAlias !== undefined) {
      const parentName = urnParts(info.parent).name;
      add(this.inheritedChildAlias(info.type, info.name, parentName, parentAlias));
      for (const urn of own) {
        const { type, name } = urnParts(urn);
        add(this.inheritedChildAlias(type, name, parentName, parentAlias));
      }
    }
    return out;
  }

  /** [SG] generateSteps: the old state by URN first, then by each alias in order. One found through an alias is
   * taken over: it is this resource's old state (diffed as usual, so equal inputs are a "same", nothing runs), its
   * entry is rewritten under the new URN, and it is never deleted as missing from the program. */
  private findOld(info: RegisterInfo): StateResource | undefined {
    const aliases = this.aliasUrns(info);
    const claimedBy = this.aliased.get(info.urn);
    if (claimedBy !== undefined) {
      throw new Error(`Duplicate resource URN '${info.urn}': '${claimedBy}' already took it over through an alias`);
    }
    const byUrn = this.live(info.urn);
    if (byUrn) return byUrn;
    for (const alias of aliases) {
      const old = this.live(alias);
      if (!old) continue;
      if (this.registered.has(alias)) {
        throw new Error(`Duplicate resource URN '${alias}': registered, and claimed by '${info.urn}' as an alias`);
      }
      const previous = this.aliased.get(alias);
      if (previous !== undefined) {
        throw new Error(`Two resources ('${previous}' and '${info.urn}') aliased to the same: '${alias}'`);
      }
      this.aliased.set(alias, info.urn);
      this.matchedAlias.set(info.urn, alias);
      return old;
    }
    return undefined;
  }

  private newEntry(info: RegisterInfo, outputs: Plain, id?: string): StateResource {
    const e: StateResource = {
      urn: info.urn,
      type: info.type,
      name: info.name,
      custom: info.custom,
      inputs: info.inputs,
      outputs,
      dependencies: info.dependencies,
      propertyDependencies: info.propertyDependencies,
    };
    if (id !== undefined) e.id = id;
    if (info.parent) e.parent = info.parent;
    if (info.deleteBeforeReplace !== undefined) e.deleteBeforeReplace = info.deleteBeforeReplace;
    if (info.replaceOnChanges.length) e.replaceOnChanges = info.replaceOnChanges;
    if (info.ignoreChanges.length) e.ignoreChanges = info.ignoreChanges;
    if (info.additionalSecretOutputs.length) e.additionalSecretOutputs = info.additionalSecretOutputs;
    if (info.protect) e.protect = true;
    if (info.retainOnDelete) e.retainOnDelete = true;
    return e;
  }

  private commandOutputs(info: RegisterInfo, stdout: unknown, stderr: unknown): Plain {
    // [CC] state = CommandOutputs{CommandInputs: inputs, BaseOutputs{Stdout, Stderr}}; [IR] markSecret: an
    // output that mirrors an input keeps that input's secretness; the engine applies
    // additionalSecretOutputs (the SDK lists "connection" [CMD]).
    const out: Plain = { ...info.inputs, stdout, stderr };
    for (const k of info.additionalSecretOutputs) if (k in out) out[k] = secretWire(out[k]);
    return out;
  }

  private replaceEntry(oldEntry: StateResource | undefined, next: StateResource): void {
    if (oldEntry) {
      const i = this.resources.indexOf(oldEntry);
      if (i >= 0) {
        this.resources[i] = next;
        return;
      }
    }
    this.resources.push(next);
  }

  private async registerCommand(info: RegisterInfo, old: StateResource | undefined): Promise<RegisterOutcome> {
    const r = { urn: info.urn, name: info.name, type: info.type };
    const news = unwrap(info.inputs) as Plain;

    // ----- decide the step -----
    let step: "create" | "same" | "update" | "replace" = "create";
    let diffs: string[] = [];
    let replaceKeys: string[] = [];
    let dbr = false;
    if (old && old.pendingReplacement) {
      // [SG] old.PendingReplacement: the old one was already deleted by a delete-before-replace.
      step = "replace";
      dbr = true;
      ({ diffs, replaceKeys } = this.diff(old, info));
    } else if (old) {
      ({ diffs, replaceKeys } = this.diff(old, info));
      if (diffs.length === 0) step = "same";
      else if (replaceKeys.length > 0) {
        step = "replace";
        // [SG] deleteBeforeReplace := diff.DeleteBeforeReplace (infer never sets it: "TODO" in [IR]),
        // overridden by the resource option when given.
        dbr = info.deleteBeforeReplace === true;
      } else step = "update";
    }
    const extra: Partial<OperationRecord> =
      step === "update" || step === "replace"
        ? { diffs, replaceKeys, ...(step === "replace" ? { deleteBeforeReplace: dbr } : {}) }
        : {};

    // ----- preview: nothing runs ([CC] Create/Update return early on DryRun) -----
    if (this.o.preview) {
      this.recordNoScript(r, step, { planned: true, ...extra });
      if (step === "same" && old) return { id: old.id, outputs: old.outputs };
      // [IR] markComputed: on create every output that does not mirror an input is computed; on update
      // outputs depend on all inputs, and one changed -> stdout/stderr are unknown too.
      return { id: old?.id, outputs: this.commandOutputs(info, UNKNOWN, UNKNOWN) };
    }

    if (step === "same" && old) {
      // Engine SameStep: no provider call; the new state takes the new goal's inputs/options with the old
      // outputs.
      this.replaceEntry(old, { ...this.newEntry(info, old.outputs, old.id) });
      this.save();
      this.recordNoScript(r, "same");
      return { id: old.id, outputs: old.outputs };
    }

    if (step === "update" && old) {
      // [CC] Update: state = news + olds.BaseOutputs; runs `update`, else `create`, else nothing.
      const oldOut = unwrap(old.outputs) as Plain;
      const props: Plain = { ...news, stdout: oldOut.stdout ?? "", stderr: oldOut.stderr ?? "" };
      const script =
        typeof news.update === "string" ? news.update : typeof news.create === "string" ? news.create : undefined;
      let stdout = props.stdout;
      let stderr = props.stderr;
      if (script !== undefined) {
        const p = this.beginPending(info.urn, info.type, "updating");
        try {
          // A failed update keeps the old state (the provider returns no properties with the error [IR]).
          ({ stdout, stderr } = await this.runScript(
            r,
            "update",
            typeof news.update === "string" ? "update" : "create",
            script,
            props,
            extra,
          ));
        } finally {
          this.endPending(p);
          this.save();
        }
      } else {
        this.recordNoScript(r, "update", extra);
      }
      const entry = this.newEntry(info, this.commandOutputs(info, stdout, stderr), old.id);
      this.replaceEntry(old, entry);
      this.save();
      return { id: old.id, outputs: entry.outputs };
    }

    if (step === "replace" && old && dbr && !old.pendingReplacement) {
      // [SG] delete-before-replace: first the dependents that would be replaced too (calculateDependentReplacements;
      // here: resources whose replace-triggering inputs came from the condemned ones), last-first, then the old one.
      const chain = this.dependentReplacements(old);
      for (const dep of [...chain].reverse()) await this.deleteOne(dep, "replace", true);
      await this.deleteOne(old, "replace", true);
    }

    // ----- create (new, or the replacement) -----
    // [CC] resource.NewUniqueHex(name, 8, 0): the name plus random hex.
    const id = `${info.name}${crypto.randomBytes(4).toString("hex")}`;
    const create = typeof news.create === "string" ? news.create : undefined;
    let stdout = "";
    let stderr = "";
    if (create !== undefined) {
      const p = this.beginPending(info.urn, info.type, "creating");
      try {
        // A failed create leaves nothing in state ([IR] Create: plain error, no PartialState).
        ({ stdout, stderr } = await this.runScript(
          r,
          step === "replace" ? "replace" : "create",
          "create",
          create,
          { ...news, stdout: "", stderr: "" },
          extra,
        ));
      } finally {
        this.endPending(p);
        this.save();
      }
    } else {
      // [CC] Create with no `create`: nothing runs, the state is the inputs (stdout/stderr empty).
      this.recordNoScript(r, step === "replace" ? "replace" : "create", extra);
    }
    const entry = this.newEntry(info, this.commandOutputs(info, stdout, stderr), id);
    if (step === "replace" && old) {
      if (old.pendingReplacement) {
        this.replaceEntry(old, entry);
      } else {
        // [SG] create-before-delete: "the delete step is generated later on, after all creates/updates
        // finish" (GenerateDeletes: old resources marked Delete).
        old.delete = true;
        this.resources.push(entry);
      }
    } else {
      this.resources.push(entry);
    }
    this.save();
    return { id, outputs: entry.outputs };
  }

  /** Dependents of `root` (transitively) whose replace-triggering inputs depend on a condemned resource. */
  private dependentReplacements(root: StateResource): StateResource[] {
    const condemned = new Set([root.urn]);
    const out: StateResource[] = [];
    let changed = true;
    while (changed) {
      changed = false;
      for (const r of this.resources) {
        if (r.delete || r.pendingReplacement || condemned.has(r.urn)) continue;
        const replaceOn = new Set((r.replaceOnChanges ?? []).map(topKey));
        if (r.type === COMMAND_TYPE) replaceOn.add("triggers");
        const hit = Object.entries(r.propertyDependencies ?? {}).some(
          ([k, urns]) => (replaceOn.has(k) || replaceOn.has("*")) && urns.some((u) => condemned.has(u)),
        );
        if (hit) {
          condemned.add(r.urn);
          out.push(r);
          changed = true;
        }
      }
    }
    return out;
  }

  private registerOther(info: RegisterInfo, old: StateResource | undefined): RegisterOutcome {
    const r = { urn: info.urn, name: info.name, type: info.type };
    let outputs: Plain = { ...info.inputs };
    if (info.type === "pulumi:pulumi:StackReference") {
      const n = unwrap(info.inputs.name);
      const name = typeof n === "string" ? n : "";
      outputs = { name, outputs: this.o.stackReferences[name] ?? {}, secretOutputNames: [] };
    } else if (info.custom && this.o.resourceHook) {
      const extraOut = this.o.resourceHook({
        type: info.type,
        name: info.name,
        urn: info.urn,
        inputs: unwrap(info.inputs) as Plain,
      });
      if (extraOut) outputs = { ...outputs, ...(stripUndefined(extraOut) as Plain) };
    }
    let op: OpKind = "create";
    let extra: Partial<OperationRecord> = {};
    if (old) {
      const { diffs, replaceKeys } = this.diff(old, info);
      op = diffs.length === 0 ? "same" : replaceKeys.length > 0 ? "replace" : "update";
      if (op !== "same") extra = { diffs, replaceKeys };
    }
    const id = info.custom
      ? (old?.id ??
        (info.importId || `${info.name}-${crypto.createHash("sha256").update(info.urn).digest("hex").slice(0, 8)}`))
      : undefined;
    this.recordNoScript(r, op, this.o.preview ? { planned: true, ...extra } : extra);
    if (!this.o.preview) {
      // Components keep the outputs they registered with registerOutputs.
      const keep = !info.custom && old ? old.outputs : outputs;
      const entry = this.newEntry(info, keep, id);
      if (old && op === "replace") {
        old.delete = true;
        this.resources.push(entry);
      } else this.replaceEntry(old, entry);
      this.save();
    }
    return { id, outputs };
  }

  /** registerOutputs of a component. */
  registerOutputs(urn: string, outputs: Plain): void {
    this.lastActivity = Date.now();
    const e = this.live(urn);
    if (!e || this.o.preview) return;
    e.outputs = outputs;
    this.save();
  }

  // ---------- deletes ----------

  /** Deletes one resource: [CC] Delete runs `delete` (if set) with the state's props (so the previous
   * stdout/stderr go to PULUMI_COMMAND_STDOUT/STDERR). On success it leaves the state (or, for a
   * delete-before-replace, stays as pendingReplacement until its replacement exists). */
  private async deleteOne(entry: StateResource, op: "delete" | "replace", forReplacement = false): Promise<void> {
    const r = { urn: entry.urn, name: entry.name, type: entry.type };
    if (entry.protect) {
      throw new Error(
        `${entry.type} (${entry.name}): unable to delete resource "${entry.urn}" as it is currently marked for protection`,
      );
    }
    const props = unwrap(entry.outputs) as Plain;
    const script =
      entry.type === COMMAND_TYPE && !entry.retainOnDelete && !entry.pendingReplacement ? props.delete : undefined;
    if (typeof script === "string") {
      const p = this.beginPending(entry.urn, entry.type, "deleting");
      try {
        await this.runScript(r, op, "delete", script, props); // failure: the resource stays in state
      } finally {
        this.endPending(p);
        this.save();
      }
    } else {
      this.recordNoScript(r, op);
    }
    if (forReplacement) {
      entry.pendingReplacement = true;
    } else {
      this.resources = this.resources.filter((x) => x !== entry);
    }
    this.save();
  }

  /** [SG] ScheduleDeletes: antichains of the condemned set, each deleted in parallel, dependents first
   * (an edge is a dependency or the parent). */
  private schedule(condemned: StateResource[]): StateResource[][] {
    const left = new Set(condemned);
    const chains: StateResource[][] = [];
    const depsOf = (r: StateResource) =>
      new Set([
        ...r.dependencies,
        ...(r.parent ? [r.parent] : []),
        ...Object.values(r.propertyDependencies ?? {}).flat(),
      ]);
    while (left.size > 0) {
      const chain: StateResource[] = [];
      for (const r of left) {
        const deps = depsOf(r);
        const blocked = [...left].some((x) => x !== r && x.urn !== r.urn && deps.has(x.urn));
        if (!blocked) chain.push(r);
      }
      if (chain.length === 0) {
        chains.push([...left]); // cycle (should not happen): give up ordering
        break;
      }
      for (const r of chain) left.delete(r);
      chains.push(chain);
    }
    // The chains are "dependencies first"; deletes go the other way.
    return chains.reverse();
  }

  private async runDeletes(condemned: StateResource[]): Promise<void> {
    for (const chain of this.schedule(condemned)) {
      const results = await Promise.allSettled(
        chain.map((e) => {
          if (e.pendingReplacement && !e.delete) {
            // [SG] GenerateDeletes: a pending-replacement resource no longer in the program is only removed
            // from the state (RemovePendingReplaceStep); it was already deleted.
            this.resources = this.resources.filter((x) => x !== e);
            this.save();
            return Promise.resolve();
          }
          return this.deleteOne(e, e.delete ? "replace" : "delete");
        }),
      );
      const bad = results.filter((x): x is PromiseRejectedResult => x.status === "rejected");
      if (bad.length > 0) {
        for (const b of bad) this.fail((b.reason as Error).message);
        return;
      }
    }
  }

  /** After the program: [SG] GenerateDeletes — replaced olds (Delete) and resources not registered. */
  async finish(): Promise<void> {
    const condemned = this.resources.filter((r) => r.delete || !this.registered.has(r.urn));
    if (this.o.preview) {
      for (const r of condemned) {
        if (r.delete) continue; // shown as part of its "replace"
        this.recordNoScript({ urn: r.urn, name: r.name, type: r.type }, "delete", { planned: true });
      }
      return;
    }
    if (this.failed) {
      this.save();
      return;
    }
    await this.runDeletes(condemned);
    this.save();
  }

  /** `pulumi destroy`: everything in state, reverse dependency order. */
  async destroy(): Promise<void> {
    const all = [...this.resources];
    if (this.o.preview) {
      for (const r of all) this.recordNoScript({ urn: r.urn, name: r.name, type: r.type }, "delete", { planned: true });
      return;
    }
    await this.runDeletes(all);
    this.save();
  }

  stats(): { sshConnections: number; dialAttempts: number } {
    return { sshConnections: sshStats.connections, dialAttempts: sshStats.dialAttempts };
  }
}
