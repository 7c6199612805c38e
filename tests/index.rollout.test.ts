/**
 * The program's `rollout` orders, on three workers: which workers each worker's first step waits for. One
 * row an order; the program is loaded again for each (the Pulumi runtime is this file's; the program's
 * modules are evaluated afresh).
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { STEP_IDS } from "../components/catalog/stepIds";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram } from "./programStack";

const WORKERS = ["worker-a", "worker-b", "worker-c"];

describe.each([
  {
    rollout: "one-at-a-time",
    meaning: "each worker waits for every step of the worker listed before it, and for no other",
    waitsFor: { "worker-a": [], "worker-b": ["worker-a"], "worker-c": ["worker-b"] },
  },
  {
    rollout: "first-then-rest",
    meaning: "every other worker waits for every step of the first worker listed, the canary, and for no other",
    waitsFor: { "worker-a": [], "worker-b": ["worker-a"], "worker-c": ["worker-a"] },
  },
] satisfies { rollout: string; meaning: string; waitsFor: Record<string, string[]> }[])(
  "the program with rollout $rollout",
  ({ rollout, meaning, waitsFor }) => {
    let run: MockedRun;
    beforeAll(async () => {
      vi.resetModules();
      let program: typeof import("../index");
      ({ run, program } = await loadProgram({
        hosts: ["worker-a=ubuntu@192.0.2.10", "worker-b=ubuntu@192.0.2.11", "worker-c=ubuntu@192.0.2.12"],
        rollout,
      }));
      await valueOf(program.runtimeVersion);
      await settle();
    });

    it(meaning, () => {
      for (const worker of WORKERS) {
        const waited: string[] = waitsFor[worker as keyof typeof waitsFor];
        const dependsOn = run.byName(`${worker}-ready`).dependsOn;
        // Every step of each worker it waits for...
        expect(dependsOn, worker).toEqual(
          expect.arrayContaining(waited.flatMap((other) => STEP_IDS.map((step) => `${other}-${step}`))),
        );
        // ...and nothing of any other worker (nor anything else).
        expect([...new Set(dependsOn.map((name) => /^(worker-[a-z])-/.exec(name)?.[1]))], worker).toEqual(waited);
      }
    });
  },
);
