import { describe, expect, it } from "vitest";
import { normalizeRuntimeVersion, parseRuntimeReport } from "../../components/worker/runtimeReport";

function answer(version: string, driver = "systemd"): string {
  return `Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  ${version}\nRuntimeApiVersion:  v1\nCgroupDriver:  ${driver}\nLastCNILoadStatus:  cni config load failed: no network config found in /etc/cni/net.d\n`;
}

describe("parseRuntimeReport", () => {
  it.each([
    ["v2.3.1", "2.3.1"],
    ["2.1.9+unknown", "2.1.9"],
    ["1.7.24~ds1", "1.7.24"],
    ["v2.0.0-rc.1", "2.0.0-rc.1"],
  ])("reads RuntimeVersion %s as %s", (reported, version) => {
    const report = parseRuntimeReport(answer(reported));
    expect(report).toEqual({
      runtimeName: "containerd",
      runtimeVersionReported: reported,
      runtimeVersion: version,
      runtimeApiVersion: "v1",
      cgroupDriver: "systemd",
      lastCniLoadStatus: "cni config load failed: no network config found in /etc/cni/net.d",
    });
  });

  it("reads the cgroupfs driver", () => {
    expect(parseRuntimeReport(answer("v2.3.1", "cgroupfs")).cgroupDriver).toBe("cgroupfs");
  });

  it.each([
    ["no RuntimeVersion", "RuntimeName:  containerd\n", /no RuntimeVersion/],
    ["an unknown driver", answer("v2.3.1", "hybrid"), /unknown cgroup driver/],
    ["a version that is not one", answer("latest"), /not a runtime version/],
  ])("refuses %s", (_what, text, message) => {
    expect(() => parseRuntimeReport(text)).toThrow(message);
  });

  it("normalizes only real versions", () => {
    expect(() => normalizeRuntimeVersion("2.1")).toThrow();
  });
});
