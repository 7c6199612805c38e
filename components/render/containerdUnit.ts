/**
 * Renders the containerd systemd unit: upstream's containerd.service for 2.x,
 * kept in code rather than fetched from GitHub at install time, so a mirror
 * or an air-gapped worker needs nothing but the release artifacts.
 */
import { PATHS } from "../catalog/catalog";
import type { HttpProxyInput } from "../inputs/options";

/** One `[Section]` of a unit file: ordered `Key=value` pairs (a key may repeat). */
export type UnitSection = [section: string, entries: [key: string, value: string][]];

/** The sections of upstream's containerd.service, with our binary path. */
export function containerdUnitSections(): UnitSection[] {
  return [
    [
      "Unit",
      [
        ["Description", "containerd container runtime"],
        ["Documentation", "https://containerd.io"],
        ["After", "network.target dbus.service"],
      ],
    ],
    [
      "Service",
      [
        ["ExecStartPre", "-/sbin/modprobe overlay"],
        ["ExecStart", `${PATHS.containerdBinDir}/containerd`],
        ["Type", "notify"],
        ["Delegate", "yes"],
        // Only containerd itself is stopped on restart: the shims, and so the containers, live on.
        ["KillMode", "process"],
        ["Restart", "always"],
        ["RestartSec", "5"],
        ["LimitNPROC", "infinity"],
        ["LimitCORE", "infinity"],
        ["TasksMax", "infinity"],
        ["OOMScoreAdjust", "-999"],
      ],
    ],
    ["Install", [["WantedBy", "multi-user.target"]]],
  ];
}

/** Renders unit sections as systemd reads them. */
export function renderUnit(sections: UnitSection[]): string {
  return sections
    .map(([section, entries]) => [`[${section}]`, ...entries.map(([key, value]) => `${key}=${value}`)].join("\n"))
    .join("\n\n")
    .concat("\n");
}

export function renderContainerdUnit(): string {
  return renderUnit(containerdUnitSections());
}

/**
 * The proxy environment file (`NAME=value` lines, as systemd's EnvironmentFile= reads them), or ""
 * without a proxy. Proxy URLs may carry credentials, so they live in this root-only file: a unit's
 * Environment= lines are readable by every local user through `systemctl show`.
 */
export function renderProxyEnvironment(proxy: HttpProxyInput | undefined): string {
  if (proxy === undefined) return "";
  const pairs: [string, string | undefined][] = [
    ["HTTP_PROXY", proxy.http],
    ["HTTPS_PROXY", proxy.https],
    ["NO_PROXY", proxy.noProxy?.join(",")],
  ];
  const lines = pairs
    .filter(([, value]) => value !== undefined && value !== "")
    .map(([name, value]) => `${name}=${value}`);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/** The proxy drop-in: it only names the environment file, so it holds nothing secret. */
export function renderProxyDropIn(): string {
  return renderUnit([["Service", [["EnvironmentFile", PATHS.containerdProxyEnv]]]]);
}
