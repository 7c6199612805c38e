import * as pulumi from "@pulumi/pulumi";
import * as remote from "@pulumi/command/remote";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ContainerdWorker } from "../../components/containerdWorker";
import { pausePromiseStacks, PROMISE_LEAKS_DEBUG_VARIABLE } from "../../components/wiring/promiseStacks";
import { installMocks, MockedRun, settle } from "../pulumiMocks";
import { verifyStdout } from "../programStack";

// The SDK's own record of the promises still pending, each with the stack it stored (runtime/debuggable.js).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdkState = require("@pulumi/pulumi/runtime/state") as {
  getStore(): { leakCandidates: Set<{ _debugCtx: string; _debugStackTrace: string }> };
};

const framesOf = (stack: string | undefined) => (stack ?? "").split("\n").filter((line) => line.startsWith("    at "));

afterEach(() => vi.unstubAllEnvs());

/** A command made by a named function: the SDK reads a source position only from a named frame. */
function commandOutside(): remote.Command {
  return new remote.Command("outside", { connection: { host: "outside.example" }, create: "true" });
}

describe("pausePromiseStacks", () => {
  it("captures no frames until resumed, then as many as before", () => {
    const before = Error.stackTraceLimit;
    const resume = pausePromiseStacks();
    const paused = framesOf(new Error().stack);
    resume();
    expect(paused).toEqual([]);
    expect(Error.stackTraceLimit).toBe(before);
    expect(framesOf(new Error().stack).length).toBeGreaterThan(0);
  });

  it("keeps the frames when PULUMI_DEBUG_PROMISE_LEAKS asks for them", () => {
    vi.stubEnv(PROMISE_LEAKS_DEBUG_VARIABLE, "1");
    const resume = pausePromiseStacks();
    const frames = framesOf(new Error().stack);
    resume();
    expect(frames.length).toBeGreaterThan(0);
  });

  it("gives an error made while paused the frames of where it is resumed", () => {
    const resume = pausePromiseStacks();
    const error = new Error("no such step");
    resume(error);
    expect(error.stack).toMatch(/^Error: no such step\n/);
    expect(framesOf(error.stack).some((frame) => frame.includes("promiseStacks.test.ts"))).toBe(true);
    // An error that has frames keeps its own.
    const framed = new Error("framed");
    const own = framed.stack;
    pausePromiseStacks()(framed);
    expect(framed.stack).toBe(own);
  });
});

describe("a ContainerdWorker's children", () => {
  let run: MockedRun;
  beforeAll(() => {
    run = installMocks({
      outputsFor: (_type, name) => (name.endsWith("-verify") ? { stdout: verifyStdout("v2.3.1") } : {}),
    });
  });

  /** The stacks the SDK stored on the pending promises of `resource`'s properties, made just now. */
  const storedStacks = (resource: string): string[] =>
    [...sdkState.getStore().leakCandidates]
      .filter((promise) => promise._debugCtx.startsWith(`transferProperty(resource:${resource}[`))
      .map((promise) => promise._debugStackTrace);

  const worker = (name: string) =>
    new ContainerdWorker(name, {
      connection: { host: `${name}.example`, user: "ubuntu", privateKey: pulumi.secret("key") },
      detectHostDrift: false,
    });

  it("are made without the stacks the SDK stores for its leak report", async () => {
    worker("quiet");
    // Read before they settle: a promise leaves the SDK's record once it resolves.
    const stacks = storedStacks("quiet-runc");
    expect(stacks.length).toBeGreaterThan(10);
    for (const stack of stacks) expect(framesOf(stack)).toEqual([]);
    // A command made outside the component keeps them, as the SDK makes them.
    commandOutside();
    expect(framesOf(storedStacks("outside")[0]).length).toBeGreaterThan(0);
    await settle();
  });

  it("keep those stacks with PULUMI_DEBUG_PROMISE_LEAKS set", async () => {
    vi.stubEnv(PROMISE_LEAKS_DEBUG_VARIABLE, "1");
    worker("debugged");
    const stacks = storedStacks("debugged-runc");
    expect(stacks.length).toBeGreaterThan(10);
    for (const stack of stacks) expect(framesOf(stack).length).toBeGreaterThan(0);
    await settle();
  });

  it("still tell the engine where they were made", async () => {
    await settle();
    const runc = run.byName("quiet-runc");
    const outside = run.byName("outside");
    expect(runc.sourcePosition).toMatch(/containerdWorker\.ts$/);
    // Its stack reaches the program that made the worker, here this file.
    expect(runc.stackTrace.some((file) => file.endsWith("promiseStacks.test.ts"))).toBe(true);
    expect(outside.sourcePosition).toMatch(/promiseStacks\.test\.ts$/);
  });
});
