import { describe, expect, it } from "vitest";
import {
  renderProxyEnvironment,
  renderContainerdUnit,
  renderProxyDropIn,
} from "../../components/render/containerdUnit";
import { PATHS } from "../../components/catalog/catalog";

/** Reads a unit file the way systemd does: sections of Key=value lines. */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const sections: Record<string, Record<string, string[]>> = {};
  let current: Record<string, string[]> | undefined;
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1]) {
      current = sections[header[1]] = {};
      continue;
    }
    const [key, ...value] = line.split("=");
    if (!current || key === undefined) throw new Error(`not a unit line: ${line}`);
    (current[key] ??= []).push(value.join("="));
  }
  return sections;
}

describe("renderContainerdUnit", () => {
  const unit = parseUnit(renderContainerdUnit());

  it.each([
    ["Unit", "After", "network.target dbus.service"],
    ["Service", "ExecStartPre", "-/sbin/modprobe overlay"],
    ["Service", "ExecStart", "/usr/local/bin/containerd"],
    ["Service", "Type", "notify"],
    ["Service", "Delegate", "yes"],
    ["Service", "KillMode", "process"],
    ["Service", "Restart", "always"],
    ["Service", "RestartSec", "5"],
    ["Service", "LimitNPROC", "infinity"],
    ["Service", "LimitCORE", "infinity"],
    ["Service", "TasksMax", "infinity"],
    ["Service", "OOMScoreAdjust", "-999"],
    ["Install", "WantedBy", "multi-user.target"],
  ])("[%s] %s=%s as upstream", (section, key, value) => {
    expect(unit[section]?.[key]).toEqual([value]);
  });

  it("ends with a newline and has exactly the three upstream sections", () => {
    expect(renderContainerdUnit().endsWith("\n")).toBe(true);
    expect(Object.keys(unit)).toEqual(["Unit", "Service", "Install"]);
  });
});

describe("renderProxyEnvironment", () => {
  it("is empty without a proxy", () => {
    expect(renderProxyEnvironment(undefined)).toBe("");
    expect(renderProxyEnvironment({ noProxy: [] })).toBe("");
  });

  it("gives containerd HTTP_PROXY, HTTPS_PROXY and NO_PROXY as an environment file, values as given", () => {
    const proxy = {
      http: "http://u:p%40ss@proxy:3128",
      https: "http://proxy:3128",
      noProxy: ["localhost", "10.0.0.0/8", ".svc"],
    };
    // systemd reads an environment file without unit specifiers: % stays as it is.
    expect(renderProxyEnvironment(proxy)).toBe(
      "HTTP_PROXY=http://u:p%40ss@proxy:3128\nHTTPS_PROXY=http://proxy:3128\nNO_PROXY=localhost,10.0.0.0/8,.svc\n",
    );
  });
});

describe("renderProxyDropIn", () => {
  it("only names the root-only environment file, so it holds no proxy URL", () => {
    const dropIn = parseUnit(renderProxyDropIn());
    expect(dropIn).toEqual({ Service: { EnvironmentFile: [PATHS.containerdProxyEnv] } });
  });
});
