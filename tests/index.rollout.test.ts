import { beforeAll, describe, expect, it } from "vitest";
import { STEP_IDS } from "../components";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram } from "./programStack";

let run: MockedRun;
beforeAll(async () => {
  let program: typeof import("../index");
  ({ run, program } = await loadProgram({
    hosts: ["worker-a=ubuntu@192.0.2.10", "worker-b=ubuntu@192.0.2.11", "worker-c=ubuntu@192.0.2.12"],
    rollout: "one-at-a-time",
  }));
  await valueOf(program.runtimeVersion);
  await settle();
});

const stepsOf = (worker: string): string[] => STEP_IDS.map((step) => `${worker}-${step}`);

describe("the program with rollout one-at-a-time", () => {
  it("holds each worker's first step until every step of the worker listed before it", () => {
    expect(run.byName("worker-a-ready").dependsOn).toEqual([]);
    expect(run.byName("worker-b-ready").dependsOn).toEqual(expect.arrayContaining(stepsOf("worker-a")));
    expect(run.byName("worker-c-ready").dependsOn).toEqual(expect.arrayContaining(stepsOf("worker-b")));
  });

  it("chains the workers, and nothing else: no worker waits for one listed after it", () => {
    const waitsFor = (worker: string) =>
      new Set(run.byName(`${worker}-ready`).dependsOn.map((name) => /^(worker-[a-z])-/.exec(name)?.[1]));
    expect([...waitsFor("worker-b")]).toEqual(["worker-a"]);
    expect([...waitsFor("worker-c")]).toEqual(["worker-b"]);
  });
});
