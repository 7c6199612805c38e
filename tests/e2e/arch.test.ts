/**
 * arch "auto" on a sandbox worker: the ready step asks the worker once, the
 * installs download for what it reported, and the stack output says it.
 */
import { describe, expect, it } from "vitest";
import { expectOk, MIRROR_VERSIONS, stepsRun } from "./lab";
import { useLab } from "./fixture";

const lab = useLab({ workers: 1 });

describe('5.3 arch "auto"', () => {
  it("installs the artifacts for the machine the worker says it is", async () => {
    const result = expectOk(await lab.up({ arch: "auto" }));
    const machine = (await lab.onWorker("uname -m")).trim();
    const expected = { x86_64: "amd64", aarch64: "arm64" }[machine];
    const outputs = (result.outputs.workers as Record<string, Record<string, string>>)[lab.worker];
    expect(outputs?.arch).toBe(expected);
    expect(outputs?.runtimeVersion).toBe(MIRROR_VERSIONS.containerd);
    // The mirror served the artifacts of that arch, and only those.
    const paths = lab.mirror.requests.map((request) => request.path).filter((p) => !p.endsWith("sha256sum"));
    expect(paths.some((p) => p.endsWith(`/runc.${expected ?? ""}`))).toBe(true);
    expect(paths.filter((p) => /(amd64|arm64)/.test(p)).every((p) => p.includes(expected ?? "?"))).toBe(true);
  });

  it("asks once: the next up runs nothing", async () => {
    const result = expectOk(await lab.up({ arch: "auto" }));
    expect(stepsRun(result, lab.worker)).toEqual([]);
  });
});
