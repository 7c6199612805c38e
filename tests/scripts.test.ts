import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ARCHES } from "../components/catalog";
import { resolveOptions, WorkerOptionsInput } from "../components/options";
import { CHECKSUM_PICK } from "../components/scripts";
import { SCRIPT_DELIMITER } from "../components/shell";
import { planWorker } from "../components/workerPlan";

/** Every script the component can generate: each step's create/update/delete across versions, arches and pins. */
function allCommands(): { name: string; command: string }[] {
  const variants: WorkerOptionsInput[] = [
    {},
    { versions: { containerd: "1.7.24" }, systemdCgroup: false },
    { versions: { containerd: "2.0.5" }, checksums: { runc: "a".repeat(64), crictl: "b".repeat(64) } },
    { downloadBaseUrl: "http://10.200.0.1:8080/mirror", sandboxImage: "registry.k8s.io/pause:3.10" },
    {
      containerdSettings: {
        snapshotter: "native",
        runtimes: {
          "runc-debug": { runtimeType: "io.containerd.runc.v2", options: { BinaryName: "/usr/local/sbin/runc" } },
        },
        extraConfig: { timeouts: { "io.containerd.timeout.shim.load": "7s" }, oom_score: -999 },
      },
    },
  ];
  const commands: { name: string; command: string }[] = [];
  for (const arch of ARCHES) {
    for (const [index, variant] of variants.entries()) {
      // A repaired worker's scripts carry generations (see hostDrift.ts).
      const plan = planWorker(
        "worker-0",
        resolveOptions({ ...variant, arch }),
        index === 1 ? { config: 2, runc: 1 } : {},
      );
      for (const step of plan.steps) {
        for (const kind of ["create", "update", "delete"] as const) {
          const command = step[kind];
          if (command) commands.push({ name: `${arch}/${index}/${step.id}/${kind}`, command });
        }
      }
    }
  }
  return commands;
}

/** The root script inside a command's here-document. */
function rootScriptOf(command: string): string {
  const match = new RegExp(`<<'${SCRIPT_DELIMITER}'\\n([^]*?)\\n${SCRIPT_DELIMITER}\\n`).exec(command);
  if (!match?.[1]) throw new Error("no root script");
  return match[1];
}

function shellcheck(text: string, shell: "sh" | "bash"): string {
  const result = spawnSync("shellcheck", ["--shell", shell, "--severity", "style", "-"], {
    input: text,
    encoding: "utf8",
  });
  if (result.error) throw result.error;
  return result.status === 0 ? "" : result.stdout;
}

describe("every generated script passes shellcheck, no exclusions", () => {
  const commands = allCommands();

  it("covers every step", () => {
    expect(commands.length).toBeGreaterThan(100);
  });

  it.each(commands)("$name", ({ command }) => {
    expect(shellcheck(command, "sh")).toBe("");
    const body = rootScriptOf(command);
    expect(body.startsWith("set -euo pipefail\n")).toBe(true);
    expect(shellcheck(body, "bash")).toBe("");
  });
});

describe("checksum files are read in each project's own format", () => {
  const hex = (c: string) => c.repeat(64);
  it.each([
    [
      "containerd .sha256sum",
      "named-line",
      "containerd-2.3.1-linux-amd64.tar.gz",
      `${hex("a")}  containerd-2.3.1-linux-amd64.tar.gz\n`,
      hex("a"),
    ],
    [
      "runc.sha256sum, several arches",
      "named-line",
      "runc.arm64",
      `${hex("1")}  runc.amd64\n${hex("2")}  runc.arm64\n${hex("3")}  runc.tar.xz\n`,
      hex("2"),
    ],
    ["sha256sum binary mode", "named-line", "runc.amd64", `${hex("4")} *runc.amd64\n`, hex("4")],
    [
      "CNI .sha256",
      "named-line",
      "cni-plugins-linux-amd64-v1.9.1.tgz",
      `${hex("c")}  cni-plugins-linux-amd64-v1.9.1.tgz\n`,
      hex("c"),
    ],
    ["crictl .sha256 (bare hex)", "bare-hex", "crictl-v1.36.0-linux-amd64.tar.gz", `${hex("d")}\n`, hex("d")],
    ["crictl .sha256 without newline", "bare-hex", "crictl-v1.36.0-linux-amd64.tar.gz", hex("e"), hex("e")],
    ["no line for our file", "named-line", "runc.arm64", `${hex("1")}  runc.amd64\n`, ""],
  ] as const)("%s", (_what, format, file, content, expected) => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "checksum-"));
    fs.writeFileSync(path.join(work, "checksum"), content);
    const result = spawnSync(
      "bash",
      ["-c", `set -euo pipefail; file="$1"; work="$2"; ${CHECKSUM_PICK[format]}`, "pick", file, work],
      {
        encoding: "utf8",
      },
    );
    fs.rmSync(work, { recursive: true });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(expected);
  });
});
