// Tests of the e2e driver against a throwaway sshd on 127.0.0.1.
//   npx vitest run --project e2e tests/e2e/driver

import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, freePort, type TestSshd } from "./sshd";
import {
  commandsRun,
  readState,
  runDeployment,
  startDeployment,
  type DeploymentResult,
  type OperationRecord,
  type ProgramContext,
} from "./index";

interface Conn {
  host: string;
  port: number;
  privateKey: string;
  dialErrorLimit?: number;
  proxy?: { host: string; port: number; privateKey: string };
}

/** One remote.Command, declared by the spec program below. */
interface Spec {
  name: string;
  create?: string;
  update?: string;
  delete?: string;
  triggers?: unknown[];
  stdin?: string;
  environment?: Record<string, string>;
  dependsOn?: string[];
  deleteBeforeReplace?: boolean;
  conn?: Conn;
}
interface SpecParams {
  conn: Conn;
  resources: Spec[];
}

/** Declares the resources in `params.resources` (each after its dependencies); exports every stdout. */
const specProgram = (ctx: ProgramContext<SpecParams>) => {
  const made: Record<string, InstanceType<typeof ctx.command.remote.Command>> = {};
  const outputs: Record<string, unknown> = {};
  for (const s of ctx.params.resources) {
    const deps = (s.dependsOn ?? []).map((d) => made[d]).filter((d) => d !== undefined);
    const cmd = new ctx.command.remote.Command(
      s.name,
      {
        connection: s.conn ?? ctx.params.conn,
        create: s.create,
        update: s.update,
        delete: s.delete,
        triggers: s.triggers,
        stdin: s.stdin,
        environment: s.environment,
      },
      { dependsOn: deps, deleteBeforeReplace: s.deleteBeforeReplace },
    );
    made[s.name] = cmd;
    outputs[s.name] = cmd.stdout;
  }
  return outputs;
};

let sshd: TestSshd;
let root: string;

beforeAll(async () => {
  sshd = await startSshd({ acceptEnv: ["DRIVER_TEST_OK"] });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "driver-test-"));
});

afterAll(async () => {
  await sshd?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function workdir(): string {
  const d = path.join(root, `t${++counter}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function conn(): Conn {
  return { host: sshd.host, port: sshd.port, privateKey: sshd.privateKey };
}

/** A shell snippet appending `label` to the test's event log (one line per event, in order). */
const mark = (dir: string, label: string) => `echo ${label} >> ${dir}/events`;
const events = (dir: string): string[] =>
  fs.existsSync(path.join(dir, "events")) ? fs.readFileSync(path.join(dir, "events"), "utf8").trim().split("\n") : [];

function up(dir: string, resources: Spec[], extra: { preview?: boolean; destroy?: boolean } = {}) {
  return runDeployment<SpecParams>({
    program: specProgram,
    params: { conn: conn(), resources },
    stateFile: path.join(dir, "state.json"),
    ...extra,
  });
}

function op(r: DeploymentResult, name: string, command?: string): OperationRecord {
  const found = r.operations.find((o) => o.name === name && (command === undefined || o.command === command));
  if (!found) throw new Error(`no operation ${name}/${command ?? "*"} in ${JSON.stringify(r.operations)}`);
  return found;
}

function expectOk(r: DeploymentResult): void {
  if (!r.ok) throw new Error(`deployment failed: ${r.error ?? "?"}\n${r.log}`);
}

describe("driver: create / same / update / replace / delete", () => {
  it("creates in dependsOn order, runs independent resources concurrently, and a second run runs nothing", async () => {
    const dir = workdir();
    const specs: Spec[] = [
      { name: "a", create: `sleep 1; ${mark(dir, "a")}` },
      { name: "b", create: `sleep 1; ${mark(dir, "b")}` },
      { name: "c", create: mark(dir, "c"), dependsOn: ["a", "b"] },
    ];
    const r1 = await up(dir, specs);
    expectOk(r1);
    const a = op(r1, "a");
    const b = op(r1, "b");
    const c = op(r1, "c");
    expect([a.op, b.op, c.op]).toEqual(["create", "create", "create"]);
    expect([a.command, b.command, c.command]).toEqual(["create", "create", "create"]);
    // a and b overlap in time; c starts after both ended.
    expect(a.startedAt).toBeLessThan(b.endedAt);
    expect(b.startedAt).toBeLessThan(a.endedAt);
    expect(c.startedAt).toBeGreaterThanOrEqual(Math.max(a.endedAt, b.endedAt));
    expect(events(dir).at(-1)).toBe("c");
    expect(r1.sshConnections).toBe(3);

    const state = readState(path.join(dir, "state.json"));
    expect(state?.resources.map((x) => x.name)).toEqual(expect.arrayContaining(["a", "b", "c"]));
    const cState = state?.resources.find((x) => x.name === "c");
    expect(cState?.dependencies.sort()).toEqual([a.urn, b.urn].sort());

    const r2 = await up(dir, specs);
    expectOk(r2);
    expect(commandsRun(r2)).toEqual([]);
    expect(r2.operations.map((o) => o.op)).toEqual(["same", "same", "same"]);
    expect(r2.sshConnections).toBe(0);
    expect(events(dir)).toHaveLength(3);
  });

  it("a changed create string runs create again (not delete); with update set it runs update", async () => {
    const dir = workdir();
    const base: Spec = { name: "x", create: mark(dir, "create-v1"), delete: mark(dir, "delete") };
    expectOk(await up(dir, [base]));

    const r2 = await up(dir, [{ ...base, create: mark(dir, "create-v2") }]);
    expectOk(r2);
    expect(commandsRun(r2).map((o) => `${o.op}/${o.command}`)).toEqual(["update/create"]);
    expect(op(r2, "x").diffs).toEqual(["create"]);

    const r3 = await up(dir, [{ ...base, create: mark(dir, "create-v3"), update: mark(dir, "update-v3") }]);
    expectOk(r3);
    expect(commandsRun(r3).map((o) => `${o.op}/${o.command}`)).toEqual(["update/update"]);
    expect(events(dir)).toEqual(["create-v1", "create-v2", "update-v3"]);
  });

  it("a change to any other input (even only `delete`) is an update: create runs again", async () => {
    const dir = workdir();
    const base: Spec = { name: "d", create: mark(dir, "create"), delete: mark(dir, "delete-v1") };
    expectOk(await up(dir, [base]));
    const r = await up(dir, [{ ...base, delete: mark(dir, "delete-v2") }]);
    expectOk(r);
    expect(commandsRun(r).map((o) => `${o.op}/${o.command}`)).toEqual(["update/create"]);
    expect(op(r, "d").diffs).toEqual(["delete"]);
    expect(events(dir)).toEqual(["create", "create"]);
    // The delete that runs later is the one now in state.
    expectOk(await runDeployment({ destroy: true, stateFile: path.join(dir, "state.json") }));
    expect(events(dir)).toEqual(["create", "create", "delete-v2"]);
  });

  it("children of a component: URNs carry the parent type; removal deletes children (dependents first) before the parent", async () => {
    const dir = workdir();
    interface CP {
      conn: Conn;
      dir: string;
      withComponent: boolean;
    }
    const program = (ctx: ProgramContext<CP>) => {
      const { dir: d, conn: c } = ctx.params;
      if (!ctx.params.withComponent) return {};
      class Worker extends ctx.pulumi.ComponentResource {
        readonly done: ReturnType<typeof ctx.pulumi.output<string>>;
        constructor(name: string) {
          super("test:index:Worker", name, {}, {});
          const one = new ctx.command.remote.Command(
            `${name}-one`,
            { connection: c, create: `sleep 0.5; echo one >> ${d}/events`, delete: `echo del-one >> ${d}/events` },
            { parent: this },
          );
          const two = new ctx.command.remote.Command(
            `${name}-two`,
            { connection: c, create: `echo two >> ${d}/events`, delete: `echo del-two >> ${d}/events` },
            { parent: this, dependsOn: [one] },
          );
          this.done = two.stdout;
          this.registerOutputs({ done: this.done });
        }
      }
      const w = new Worker("w");
      const after = new ctx.command.remote.Command(
        "after",
        { connection: c, create: `echo after >> ${d}/events`, delete: `echo del-after >> ${d}/events` },
        { dependsOn: [w] },
      );
      return { after: after.urn };
    };
    const r = await runDeployment<CP>({
      program,
      params: { conn: conn(), dir, withComponent: true },
      stateFile: path.join(dir, "state.json"),
    });
    expectOk(r);
    expect(op(r, "w-one").urn).toBe("urn:pulumi:stack::project::test:index:Worker$command:remote:Command::w-one");
    expect(op(r, "w").op).toBe("create");
    expect(op(r, "w").command).toBeUndefined();
    // dependsOn a component waits for its children
    expect(events(dir)).toEqual(["one", "two", "after"]);
    const st = readState(path.join(dir, "state.json"));
    expect(st?.resources.find((x) => x.name === "w-two")?.parent).toBe(op(r, "w").urn);

    const r2 = await runDeployment<CP>({
      program,
      params: { conn: conn(), dir, withComponent: false },
      stateFile: path.join(dir, "state.json"),
    });
    expectOk(r2);
    expect(events(dir).slice(3)).toEqual(["del-after", "del-two", "del-one"]);
    const wDelete = op(r2, "w");
    expect(wDelete.op).toBe("delete");
    expect(wDelete.startedAt).toBeGreaterThanOrEqual(op(r2, "w-one").endedAt);
    expect(readState(path.join(dir, "state.json"))?.resources).toEqual([]);
  });

  it("aliases: a component whose type or name changed takes over its old state, and its children theirs, as the engine does", async () => {
    const dir = workdir();
    interface AP {
      conn: Conn;
      dir: string;
      type: string;
      name: string;
      aliases: { type?: string; name?: string }[];
    }
    const program = (ctx: ProgramContext<AP>) => {
      const { dir: d, conn: c, type, name, aliases } = ctx.params;
      class Worker extends ctx.pulumi.ComponentResource {
        constructor(n: string) {
          super(type, n, {}, { aliases });
          const one = new ctx.command.remote.Command(
            `${n}-one`,
            { connection: c, create: `echo one >> ${d}/events`, delete: `echo del-one >> ${d}/events` },
            { parent: this },
          );
          new ctx.command.remote.Command(
            `${n}-two`,
            { connection: c, create: `echo two >> ${d}/events`, delete: `echo del-two >> ${d}/events` },
            { parent: this, dependsOn: [one] },
          );
          this.registerOutputs({});
        }
      }
      const w = new Worker(name);
      new ctx.command.remote.Command(
        "after",
        { connection: c, create: `echo after >> ${d}/events`, delete: `echo del-after >> ${d}/events` },
        { dependsOn: [w] },
      );
      return {};
    };
    const stateFile = path.join(dir, "state.json");
    const run = (params: Omit<AP, "conn" | "dir">, file = stateFile) =>
      runDeployment<AP>({ program, params: { conn: conn(), dir, ...params }, stateFile: file });
    expectOk(await run({ type: "test:old:Worker", name: "w", aliases: [] }));
    expect(events(dir)).toEqual(["one", "two", "after"]);
    const unaliased = path.join(dir, "unaliased.json");
    fs.copyFileSync(stateFile, unaliased);

    // The new type with the old one as an alias: nothing runs, every resource is the same one, under its new URN.
    const moved = await run({ type: "test:index:Worker", name: "w", aliases: [{ type: "test:old:Worker" }] });
    expectOk(moved);
    expect(commandsRun(moved)).toEqual([]);
    expect(moved.operations.map((o) => `${o.name}:${o.op}`).sort()).toEqual([
      "after:same",
      "w-one:same",
      "w-two:same",
      "w:same",
    ]);
    const urns = readState(stateFile)?.resources.map((r) => r.urn) ?? [];
    expect(urns.filter((u) => u.includes("test:old:Worker"))).toEqual([]);
    expect(urns).toContain("urn:pulumi:stack::project::test:index:Worker$command:remote:Command::w-one");
    expect(readState(stateFile)?.resources.find((r) => r.name === "w-two")?.parent).toBe(op(moved, "w").urn);

    // A rename too: the children's names follow their parent's prefix (engine inheritedChildAlias).
    const renamed = await run({ type: "test:index:Worker", name: "v", aliases: [{ name: "w" }] });
    expectOk(renamed);
    expect(commandsRun(renamed)).toEqual([]);
    expect(
      readState(stateFile)
        ?.resources.map((r) => r.name)
        .sort(),
    ).toEqual(["after", "v", "v-one", "v-two"]);

    // Without the alias the same change is a new component: its children are created, the old ones deleted.
    const replaced = await run({ type: "test:index:Worker", name: "w", aliases: [] }, unaliased);
    expectOk(replaced);
    expect(commandsRun(replaced).map((o) => `${o.name}:${o.command}`)).toEqual([
      "w-one:create",
      "w-two:create",
      "w-two:delete",
      "w-one:delete",
    ]);
  });

  it("changed triggers replace: the new create runs first, the old delete at the end of the deployment", async () => {
    const dir = workdir();
    const specs = (t: number): Spec[] => [
      { name: "r", create: mark(dir, `r-create-${t}`), delete: mark(dir, "r-delete"), triggers: [t] },
      { name: "s", create: mark(dir, `s-create-${t}`), dependsOn: ["r"] },
    ];
    expectOk(await up(dir, specs(1)));
    const r2 = await up(dir, specs(2));
    expectOk(r2);
    expect(events(dir)).toEqual(["r-create-1", "s-create-1", "r-create-2", "s-create-2", "r-delete"]);
    const created = op(r2, "r", "create");
    const deleted = op(r2, "r", "delete");
    expect(created.op).toBe("replace");
    expect(created.replaceKeys).toEqual(["triggers"]);
    expect(deleted.op).toBe("replace");
    expect(deleted.startedAt).toBeGreaterThanOrEqual(op(r2, "s").endedAt);
    const st = readState(path.join(dir, "state.json"));
    expect(st?.resources.filter((x) => x.name === "r")).toHaveLength(1);
    expect(st?.resources.some((x) => x.delete)).toBe(false);
  });

  it("with deleteBeforeReplace the old delete runs before the new create", async () => {
    const dir = workdir();
    const specs = (t: number): Spec[] => [
      {
        name: "r",
        create: mark(dir, `r-create-${t}`),
        delete: mark(dir, "r-delete"),
        triggers: [t],
        deleteBeforeReplace: true,
      },
    ];
    expectOk(await up(dir, specs(1)));
    const r2 = await up(dir, specs(2));
    expectOk(r2);
    expect(events(dir)).toEqual(["r-create-1", "r-delete", "r-create-2"]);
    expect(op(r2, "r", "create").deleteBeforeReplace).toBe(true);
  });

  it("a resource removed from the program is deleted", async () => {
    const dir = workdir();
    const p: Spec = { name: "p", create: mark(dir, "p-create"), delete: mark(dir, "p-delete") };
    const q: Spec = { name: "q", create: mark(dir, "q-create"), delete: mark(dir, "q-delete"), dependsOn: ["p"] };
    expectOk(await up(dir, [p, q]));
    const r2 = await up(dir, [p]);
    expectOk(r2);
    expect(commandsRun(r2).map((o) => `${o.name}:${o.op}/${o.command}`)).toEqual(["q:delete/delete"]);
    expect(events(dir)).toEqual(["p-create", "q-create", "q-delete"]);
    expect(readState(path.join(dir, "state.json"))?.resources.map((x) => x.name)).toEqual(["p"]);
  });

  it("destroy deletes in reverse dependency order", async () => {
    const dir = workdir();
    const specs: Spec[] = [
      { name: "d1", create: "true", delete: `sleep 0.3; ${mark(dir, "d1")}` },
      { name: "d2", create: "true", delete: `sleep 0.3; ${mark(dir, "d2")}`, dependsOn: ["d1"] },
      { name: "d3", create: "true", delete: `sleep 0.3; ${mark(dir, "d3")}`, dependsOn: ["d2"] },
      { name: "solo", create: "true", delete: mark(dir, "solo") },
    ];
    expectOk(await up(dir, specs));
    const r = await runDeployment({ destroy: true, stateFile: path.join(dir, "state.json") });
    expectOk(r);
    const order = events(dir).filter((e) => e !== "solo");
    expect(order).toEqual(["d3", "d2", "d1"]);
    expect(events(dir)).toContain("solo");
    expect(op(r, "d2", "delete").startedAt).toBeGreaterThanOrEqual(op(r, "d3", "delete").endedAt);
    expect(op(r, "d1", "delete").startedAt).toBeGreaterThanOrEqual(op(r, "d2", "delete").endedAt);
    expect(readState(path.join(dir, "state.json"))?.resources).toEqual([]);
  });
});

describe("driver: what reaches the command", () => {
  it("passes stdin", async () => {
    const dir = workdir();
    const r = await up(dir, [{ name: "in", create: `cat > ${dir}/stdin.txt`, stdin: "line one\nline two\n" }]);
    expectOk(r);
    expect(fs.readFileSync(path.join(dir, "stdin.txt"), "utf8")).toBe("line one\nline two\n");
  });

  it("sets environment through setenv: an accepted name works, a refused one fails as the provider does", async () => {
    const dir = workdir();
    const ok = await up(dir, [
      { name: "env-ok", create: 'echo "v=$DRIVER_TEST_OK"', environment: { DRIVER_TEST_OK: "yes" } },
    ]);
    expectOk(ok);
    expect(ok.outputs["env-ok"]).toBe("v=yes");

    const dir2 = workdir();
    const bad = await up(dir2, [{ name: "env-bad", create: mark(dir2, "ran"), environment: { NOT_ACCEPTED: "nope" } }]);
    expect(bad.ok).toBe(false);
    expect(bad.error).toContain("env-bad");
    expect(bad.error).toContain('could not set environment variable "NOT_ACCEPTED": ssh: setenv failed');
    expect(events(dir2)).toEqual([]); // the command never ran
    expect(readState(path.join(dir2, "state.json"))?.resources ?? []).toEqual([]);
  });

  it("stdout flows into a dependent's input through apply", async () => {
    const dir = workdir();
    const r = await runDeployment<{ conn: Conn; dir: string }>({
      program: (ctx) => {
        const src = new ctx.command.remote.Command("source", { connection: ctx.params.conn, create: "echo value-123" });
        const sink = new ctx.command.remote.Command("sink", {
          connection: ctx.params.conn,
          create: src.stdout.apply((s) => `echo "got ${s}" > ${ctx.params.dir}/sink.txt; echo done`),
        });
        return { sink: sink.stdout };
      },
      params: { conn: conn(), dir },
      stateFile: path.join(dir, "state.json"),
    });
    expectOk(r);
    expect(fs.readFileSync(path.join(dir, "sink.txt"), "utf8")).toBe("got value-123\n");
    expect(op(r, "sink").startedAt).toBeGreaterThanOrEqual(op(r, "source").endedAt);
    const sink = readState(path.join(dir, "state.json"))?.resources.find((x) => x.name === "sink");
    expect(JSON.stringify(sink?.inputs)).toContain("value-123");
    expect(r.outputs.sink).toBe("done");
  });

  it("addPreviousOutputInEnv: a refused PULUMI_COMMAND_STDOUT is only a warning; an accepting sshd gets it", async () => {
    const dir = workdir();
    const v1: Spec = { name: "prev", create: "echo first-output" };
    const v2: Spec = { name: "prev", create: `echo "prev=[$PULUMI_COMMAND_STDOUT]" > ${dir}/prev.txt` };
    expectOk(await up(dir, [v1]));
    const r = await up(dir, [v2]);
    expectOk(r);
    expect(fs.readFileSync(path.join(dir, "prev.txt"), "utf8")).toBe("prev=[]\n");
    expect(r.warnings.join("\n")).toContain("Unable to set 'PULUMI_COMMAND_STDOUT'");

    const accepting = await startSshd({ acceptEnv: ["PULUMI_COMMAND_STDOUT", "PULUMI_COMMAND_STDERR"] });
    try {
      const dir2 = workdir();
      const c2: Conn = { host: accepting.host, port: accepting.port, privateKey: accepting.privateKey };
      expectOk(await up(dir2, [{ ...v1, conn: c2 }]));
      const r2 = await up(dir2, [
        { name: "prev", conn: c2, create: `echo "prev=[$PULUMI_COMMAND_STDOUT]" > ${dir2}/prev.txt` },
      ]);
      expectOk(r2);
      expect(fs.readFileSync(path.join(dir2, "prev.txt"), "utf8")).toBe("prev=[first-output]\n");
      expect(r2.warnings).toEqual([]);
    } finally {
      await accepting.stop();
    }
  });

  it("reaches a host through a proxy (bastion): two SSH connections per command", async () => {
    const dir = workdir();
    const viaProxy: Conn = { ...conn(), proxy: { host: sshd.host, port: sshd.port, privateKey: sshd.privateKey } };
    const r = await up(dir, [{ name: "hop", create: "echo via-bastion", conn: viaProxy }]);
    expectOk(r);
    expect(r.outputs.hop).toBe("via-bastion");
    expect(r.sshConnections).toBe(2);
  });

  it("through a proxy, a target that closes before the handshake uses up the limit on the dead channel", async () => {
    // What an sshd past MaxStartups does: accept, then close. x/crypto/ssh retries the handshake on the same
    // (closed) conn, so every retry fails at once and the error comes after the limit, not a hang.
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const dir = workdir();
      const viaProxy: Conn = {
        host: "127.0.0.1",
        port,
        privateKey: sshd.privateKey,
        dialErrorLimit: 2,
        proxy: { host: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
      };
      const started = Date.now();
      const r = await up(dir, [{ name: "dropped", create: "true", conn: viaProxy }]);
      expect(r.ok).toBe(false);
      expect(r.error).toContain("proxy: after 2 failed attempts: ssh: handshake failed: EOF");
      // One TCP connection through the bastion: the retries never open another (Go's waits: 100 + 150 ms).
      expect(r.dialAttempts).toBe(1 + 3);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      server.close();
    }
  });
});

describe("driver: failures", () => {
  it("a failing command names the resource and its stderr; independent work finishes, dependents do not run", async () => {
    const dir = workdir();
    const specs = (fixed: boolean): Spec[] => [
      { name: "slow", create: `sleep 1; ${mark(dir, "slow")}` },
      { name: "f", create: fixed ? mark(dir, "f") : "echo to-stdout; echo boom-on-stderr >&2; exit 7" },
      { name: "after-f", create: mark(dir, "after-f"), dependsOn: ["f"] },
      // Independent of f, but its registration arrives after f failed: the engine starts no new step.
      { name: "after-slow", create: mark(dir, "after-slow"), dependsOn: ["slow"] },
    ];
    const r = await up(dir, specs(false));
    expect(r.ok).toBe(false);
    expect(r.error).toContain("command:remote:Command (f)");
    expect(r.error).toContain("Process exited with status 7");
    expect(r.error).toContain("boom-on-stderr");
    expect(op(r, "f").exitCode).toBe(7);
    expect(op(r, "f").stderr).toBe("boom-on-stderr\n");
    expect(op(r, "slow").exitCode).toBe(0); // already running: it finished
    expect(r.operations.some((o) => o.name === "after-f" || o.name === "after-slow")).toBe(false);
    expect(r.skipped).toEqual([op(r, "slow").urn.replace("::slow", "::after-slow")]);
    expect(events(dir)).toEqual(["slow"]);
    const names = readState(path.join(dir, "state.json"))?.resources.map((x) => x.name);
    expect(names).toEqual(["slow"]); // a failed create leaves nothing in state

    const r2 = await up(dir, specs(true));
    expectOk(r2);
    expect(
      commandsRun(r2)
        .map((o) => o.name)
        .sort(),
    ).toEqual(["after-f", "after-slow", "f"]);
    expect(op(r2, "slow").op).toBe("same");
  });

  it("a failure whose dependents feed registerOutputs and stack outputs ends promptly (no hang)", async () => {
    // The shape of index.ts + ContainerdWorker: the dependent of the failing step is never registered, so its
    // stdout stays pending forever; the component's registerOutputs over it keeps an SDK RPC open for good and
    // stack outputs computed from it (pulumi.all/apply) never settle.
    const dir = workdir();
    interface FP {
      conn: Conn;
      dir: string;
    }
    const program = (ctx: ProgramContext<FP>) => {
      const { dir: d, conn: c } = ctx.params;
      const { pulumi } = ctx;
      class Worker extends pulumi.ComponentResource {
        readonly report: ReturnType<typeof pulumi.output<string>>;
        readonly endpoint: ReturnType<typeof pulumi.output<string>>;
        constructor(name: string) {
          super("test:index:Worker", name, {}, {});
          const bad = new ctx.command.remote.Command(
            `${name}-bad`,
            { connection: c, create: "echo fetch failed: 404 >&2; exit 22" },
            { parent: this },
          );
          const slow = new ctx.command.remote.Command(
            `${name}-slow`,
            { connection: c, create: `sleep 1; echo slow >> ${d}/events; echo slow` },
            { parent: this },
          );
          const unit = new ctx.command.remote.Command(
            `${name}-unit`,
            { connection: c, create: `echo unit >> ${d}/events` },
            { parent: this, dependsOn: [bad, slow] },
          );
          const verify = new ctx.command.remote.Command(
            `${name}-verify`,
            { connection: c, create: `echo verify >> ${d}/events; echo 2.1.9` },
            { parent: this, dependsOn: [unit] },
          );
          this.report = verify.stdout.apply((s) => s.trim());
          this.endpoint = pulumi.output("unix:///run/x.sock");
          this.registerOutputs({ report: this.report, endpoint: this.endpoint });
        }
      }
      const workers = [new Worker("w")];
      return {
        report: workers[0]?.report,
        agreed: pulumi.all(workers.map((w) => w.report)).apply((all) => all[0] ?? ""),
        perWorker: pulumi.output({ w: { version: workers[0]?.report, endpoint: workers[0]?.endpoint } }),
        endpoint: pulumi.all(workers.map((w) => w.endpoint)).apply((all) => all[0] ?? ""),
      };
    };
    const t0 = Date.now();
    const r = await runDeployment<FP>({
      program,
      params: { conn: conn(), dir },
      stateFile: path.join(dir, "state.json"),
      timeoutMs: 60_000, // a hang ends as SIGKILL (and fails below) instead of outliving the test
    });
    const took = Date.now() - t0;
    expect(r.signal).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r.ok).toBe(false);
    expect(r.error).toContain("command:remote:Command (w-bad)");
    expect(r.error).toContain("404");
    expect(took).toBeLessThan(15_000);
    expect(op(r, "w-slow").exitCode).toBe(0); // independent: it finished
    expect(r.operations.some((o) => o.name === "w-unit" || o.name === "w-verify")).toBe(false);
    expect(events(dir)).toEqual(["slow"]);
    // What settled is reported; what hangs on the failed step is left out.
    expect(r.outputs).toEqual({ endpoint: "unix:///run/x.sock" });
    expect(readState(path.join(dir, "state.json"))?.resources.map((x) => x.name)).toEqual(["w", "w-slow"]);
  });

  it("a failed update keeps the old state, so the next run tries the update again", async () => {
    const dir = workdir();
    expectOk(await up(dir, [{ name: "u", create: "echo v1" }]));
    const bad = await up(dir, [{ name: "u", create: "echo v2; exit 3" }]);
    expect(bad.ok).toBe(false);
    const st = readState(path.join(dir, "state.json"));
    expect(JSON.stringify(st?.resources[0]?.outputs)).toContain('"stdout":"v1"');
    const good = await up(dir, [{ name: "u", create: "echo v3" }]);
    expectOk(good);
    expect(op(good, "u").op).toBe("update");
    expect(good.outputs.u).toBe("v3");
  });

  it("dial errors: dialErrorLimit allowed failures, then the provider's message", async () => {
    const dir = workdir();
    const closed = await freePort();
    const t0 = Date.now();
    const r = await up(dir, [
      {
        name: "nohost",
        create: "true",
        conn: { host: "127.0.0.1", port: closed, privateKey: sshd.privateKey, dialErrorLimit: 2 },
      },
    ]);
    expect(r.ok).toBe(false);
    expect(r.error).toContain("(nohost)");
    expect(r.error).toContain(`after 2 failed attempts: dial tcp 127.0.0.1:${closed}: connect: connection refused`);
    expect(r.dialAttempts).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // 100 ms + 150 ms back-off
  });

  it("killing the run in the middle of a command and running again converges", async () => {
    const dir = workdir();
    const specs: Spec[] = [
      { name: "k1", create: mark(dir, "k1") },
      { name: "k2", create: `sleep 3; ${mark(dir, "k2")}`, dependsOn: ["k1"] },
    ];
    let started!: () => void;
    const k2Started = new Promise<void>((r) => (started = r));
    const handle = startDeployment<SpecParams>({
      program: specProgram,
      params: { conn: conn(), resources: specs },
      stateFile: path.join(dir, "state.json"),
      onOperation: (e) => {
        if (e.kind === "start" && e.name === "k2") started();
      },
    });
    await k2Started;
    await new Promise((r) => setTimeout(r, 300));
    handle.kill("SIGKILL");
    const killed = await handle.done;
    expect(killed.ok).toBe(false);
    expect(killed.signal).toBe("SIGKILL");
    const mid = readState(path.join(dir, "state.json"));
    expect(mid?.resources.map((x) => x.name)).toEqual(["k1"]);
    expect(mid?.pendingOperations.map((p) => `${p.op}:${p.urn.split("::").pop() ?? ""}`)).toEqual(["creating:k2"]);

    const again = await up(dir, specs);
    expectOk(again);
    expect(op(again, "k1").op).toBe("same");
    expect(op(again, "k2").op).toBe("create");
    expect(again.warnings.join("\n")).toContain("interrupted while creating");
    const after = readState(path.join(dir, "state.json"));
    expect(after?.resources.map((x) => x.name)).toEqual(["k1", "k2"]);
    expect(after?.pendingOperations).toEqual([]);

    const third = await up(dir, specs);
    expectOk(third);
    expect(commandsRun(third)).toEqual([]);
  });
});

describe("driver: preview, config, outputs, invokes", () => {
  it("preview runs nothing and reports the planned operation and the differing inputs", async () => {
    const dir = workdir();
    const before: Spec[] = [
      { name: "keep", create: mark(dir, "keep") },
      { name: "edit", create: mark(dir, "edit-1") },
      { name: "trig", create: mark(dir, "trig"), triggers: ["a"] },
      { name: "gone", create: mark(dir, "gone"), delete: mark(dir, "gone-delete") },
    ];
    expectOk(await up(dir, before));
    const stateBefore = fs.readFileSync(path.join(dir, "state.json"), "utf8");
    const after: Spec[] = [
      { name: "keep", create: mark(dir, "keep") },
      { name: "edit", create: mark(dir, "edit-2") },
      { name: "trig", create: mark(dir, "trig"), triggers: ["b"] },
      { name: "new", create: mark(dir, "new") },
    ];
    const p = await up(dir, after, { preview: true });
    expectOk(p);
    expect(commandsRun(p)).toEqual([]);
    expect(p.sshConnections).toBe(0);
    const plan = Object.fromEntries(p.operations.map((o) => [o.name, o]));
    expect(plan.keep?.op).toBe("same");
    expect(plan.edit?.op).toBe("update");
    expect(plan.edit?.diffs).toEqual(["create"]);
    expect(plan.trig?.op).toBe("replace");
    expect(plan.trig?.replaceKeys).toEqual(["triggers"]);
    expect(plan.new?.op).toBe("create");
    expect(plan.gone?.op).toBe("delete");
    expect(p.operations.every((o) => o.planned)).toBe(true);
    expect(events(dir).sort()).toEqual(["edit-1", "gone", "keep", "trig"]); // nothing new ran
    expect(fs.readFileSync(path.join(dir, "state.json"), "utf8")).toBe(stateBefore);
  });

  it("runs a program module as its project (Pulumi.yaml name and config defaults); exports are outputs, secrets tracked", async () => {
    const dir = workdir();
    const token = "tok-3f9a1c-very-secret";
    const program = path.join(__dirname, "fixtures", "config-program.ts");
    const base = {
      host: sshd.host,
      port: String(sshd.port),
      privateKey: { secret: sshd.privateKey },
      "driver-fixture:token": { secret: token },
    };
    const r = await runDeployment({ program, stateFile: path.join(dir, "state.json"), stack: "dev", config: base });
    expectOk(r);
    // greeting comes from the `default` in fixtures/Pulumi.yaml
    expect(r.outputs).toEqual({ greeting: "hello-from-project-default", token, stackName: "dev" });
    expect(r.secretOutputs).toEqual(["token"]);
    expect(op(r, "from-module").urn).toBe("urn:pulumi:dev::driver-fixture::command:remote:Command::from-module");
    // Secrets never show in what the driver reports or prints.
    const printed = JSON.stringify({ ops: r.operations, errors: r.errors, warnings: r.warnings, log: r.log });
    expect(printed).not.toContain(token);
    expect(printed).not.toContain(sshd.privateKey.split("\n")[1] ?? "unreachable");

    // Stack config wins over the project default; the changed command is an update.
    const r2 = await runDeployment({
      program,
      stateFile: path.join(dir, "state.json"),
      stack: "dev",
      config: { ...base, greeting: "hello-from-stack" },
    });
    expectOk(r2);
    expect(r2.outputs.greeting).toBe("hello-from-stack");
    expect(op(r2, "from-module").op).toBe("update");
  });

  it("answers invokes from a hook and gives other resource types their inputs (plus hook outputs) as state", async () => {
    const dir = workdir();
    const r = await runDeployment<{ conn: Conn }>({
      program: async (ctx) => {
        const ami = (await ctx.pulumi.runtime.invoke("aws:ec2/getAmi:getAmi", { mostRecent: true })) as { id: string };
        class Instance extends ctx.pulumi.CustomResource {
          declare readonly publicIp: ReturnType<typeof ctx.pulumi.output<string>>;
          constructor(name: string, props: { ami: string }) {
            super("aws:ec2/instance:Instance", name, { ...props, publicIp: undefined });
          }
        }
        const vm = new Instance("vm", { ami: ami.id });
        const publicIp = vm.publicIp;
        const cmd = new ctx.command.remote.Command("on-vm", {
          connection: ctx.params.conn,
          create: ctx.pulumi.interpolate`echo ami=${ami.id} ip=${publicIp}`,
        });
        return { out: cmd.stdout, vmId: vm.id };
      },
      params: { conn: conn() },
      invoke: ({ token }) => (token === "aws:ec2/getAmi:getAmi" ? { id: "ami-0123456789" } : undefined),
      resource: ({ type }) => (type === "aws:ec2/instance:Instance" ? { publicIp: "203.0.113.7" } : undefined),
      stateFile: path.join(dir, "state.json"),
    });
    expectOk(r);
    expect(r.outputs.out).toBe("ami=ami-0123456789 ip=203.0.113.7");
    expect(String(r.outputs.vmId)).toMatch(/^vm-[0-9a-f]{8}$/);
    const vm = readState(path.join(dir, "state.json"))?.resources.find((x) => x.name === "vm");
    expect(vm?.inputs).toEqual({ ami: "ami-0123456789" });
  });
});
