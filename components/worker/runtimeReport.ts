/**
 * Parses what the verify step printed: `crictl version`'s answer from the
 * runtime itself, plus the cgroup driver and CNI status it read from `crictl info`.
 */

export interface RuntimeReport {
  /** `containerd`. */
  runtimeName: string;
  /** The version as the runtime reports it: `v2.3.1` upstream, `2.1.9+unknown` from a distribution build. */
  runtimeVersionReported: string;
  /** The same version as plain `X.Y.Z[-pre]`: no `v`, no build metadata. */
  runtimeVersion: string;
  /** `v1`: the CRI API the kubelet needs. */
  runtimeApiVersion: string;
  cgroupDriver: "systemd" | "cgroupfs";
  /** containerd's last CNI load status (an error until a network config exists in /etc/cni/net.d). */
  lastCniLoadStatus: string;
}

function field(text: string, name: string): string {
  const match = new RegExp(`^${name}:[ \\t]*(.*?)[ \\t]*$`, "m").exec(text);
  if (!match || match[1] === undefined || match[1] === "") {
    throw new Error(`the runtime's answer has no ${name}: ${JSON.stringify(text)}`);
  }
  return match[1];
}

/** `v2.3.1` -> `2.3.1`, `2.1.9+unknown` -> `2.1.9`, `1.7.24~ds1` -> `1.7.24`, `v2.0.0-rc.1` stays `2.0.0-rc.1`. */
export function normalizeRuntimeVersion(reported: string): string {
  const match = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:[+~].*)?$/.exec(reported.trim());
  if (!match || match[1] === undefined) {
    throw new Error(`not a runtime version: ${JSON.stringify(reported)}`);
  }
  return match[1];
}

export function parseRuntimeReport(verifyStdout: string): RuntimeReport {
  const runtimeVersionReported = field(verifyStdout, "RuntimeVersion");
  const cgroupDriver = field(verifyStdout, "CgroupDriver");
  if (cgroupDriver !== "systemd" && cgroupDriver !== "cgroupfs") {
    throw new Error(`unknown cgroup driver in the runtime's answer: ${cgroupDriver}`);
  }
  return {
    runtimeName: field(verifyStdout, "RuntimeName"),
    runtimeVersionReported,
    runtimeVersion: normalizeRuntimeVersion(runtimeVersionReported),
    runtimeApiVersion: field(verifyStdout, "RuntimeApiVersion"),
    cgroupDriver,
    lastCniLoadStatus: field(verifyStdout, "LastCNILoadStatus"),
  };
}
