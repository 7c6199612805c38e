import { describe, expect, it } from "vitest";
import { parseReadyReport } from "../../components/worker/readyReport";

describe("parseReadyReport", () => {
  it.each([
    ["amd64", "arch=amd64\nkernel=6.8.0-1015-aws\n", { arch: "amd64", kernel: "6.8.0-1015-aws" }],
    ["arm64", "arch=arm64\nkernel=6.8.0-1015-aws\n", { arch: "arm64", kernel: "6.8.0-1015-aws" }],
    ["other lines around it", "waiting for cloud-init\narch=arm64\nkernel=6.1.0\n", { arch: "arm64", kernel: "6.1.0" }],
  ])("%s", (_what, stdout, expected) => {
    expect(parseReadyReport(stdout)).toEqual(expected);
  });

  it.each([
    ["no arch line", "kernel=6.8.0\n"],
    ["an arch without artifacts", "arch=riscv64\nkernel=6.8.0\n"],
    ["nothing", ""],
  ])("fails on %s, quoting what the step printed", (_what, stdout) => {
    expect(() => parseReadyReport(stdout)).toThrow(/the ready step reported no supported arch \(amd64, arm64\)/);
  });
});
