import { beforeAll, describe, expect, it } from "vitest";
import { STEP_IDS } from "../components";
import { MockedRun, settle, valueOf } from "./pulumiMocks";
import { loadProgram } from "./programStack";

let run: MockedRun;
beforeAll(async () => {
  let program: typeof import("../index");
  ({ run, program } = await loadProgram({
    hosts: ["worker-a=ubuntu@192.0.2.10", "worker-b=ubuntu@192.0.2.11", "worker-c=ubuntu@192.0.2.12"],
    rollout: "first-then-rest",
  }));
  await valueOf(program.runtimeVersion);
  await settle();
});

/** The workers a worker's first step waits for. */
const waitsFor = (worker: string) => [
  ...new Set(run.byName(`${worker}-ready`).dependsOn.map((name) => /^(worker-[a-z])-/.exec(name)?.[1])),
];

describe("the program with rollout first-then-rest", () => {
  it("holds every other worker until every step of the first worker listed, the canary", () => {
    expect(run.byName("worker-a-ready").dependsOn).toEqual([]);
    for (const worker of ["worker-b", "worker-c"]) {
      expect(run.byName(`${worker}-ready`).dependsOn).toEqual(
        expect.arrayContaining(STEP_IDS.map((step) => `worker-a-${step}`)),
      );
      expect(waitsFor(worker)).toEqual(["worker-a"]);
    }
  });
});
