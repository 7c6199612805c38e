import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ADOPTED_DIR,
  ARCHES,
  artifactFor,
  DEFAULT_VERSIONS,
  Part,
  PARTS,
  PATHS,
} from "../../components/catalog/catalog";
import { renderContainerdUnit } from "../../components/render/containerdUnit";
import { resolveOptions } from "../../components/inputs/options";
import { WorkerOptionsInput } from "../../components/args/containerdWorkerArgs";
import {
  installScript,
  PURGED_STATE_DIRS,
  resetScript,
  uninstallScript,
  verifyScript,
} from "../../components/worker/scripts";
import { piece } from "../../components/worker/scriptFiles";
import { renderContainerdConfig } from "../../components/render/containerdConfig";
import { ContainerdSettings } from "../../components/args/containerdSettingsArgs";
import { SCRIPT_DELIMITER_PREFIX, shellQuote } from "../../components/worker/shell";
import { StepId } from "../../components/catalog/stepIds";
import { planWorker } from "../../components/plan/workerPlan";

/** Every script the component can generate: each step's create/update/delete across versions, arches and pins. */
function allCommands(): { name: string; command: string }[] {
  const variants: WorkerOptionsInput[] = [
    {},
    { versions: { containerd: "1.7.24" }, systemdCgroup: false },
    { versions: { containerd: "2.0.5" }, checksums: { runc: "a".repeat(64), crictl: "b".repeat(64) } },
    { downloadBaseUrl: "http://10.200.0.1:8080/mirror", sandboxImage: "registry.k8s.io/pause:3.10" },
    {
      purgeStateOnDestroy: true,
      staticBuild: true,
      readyTimeoutSeconds: 60,
      httpProxy: { https: "http://proxy.internal:3128", noProxy: ["localhost"] },
    },
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
  // arch "auto": the ready step asks instead of checking; the installs take what it reported.
  for (const step of planWorker("worker-0", resolveOptions({ arch: "auto" }), {}, "arm64").steps) {
    for (const kind of ["create", "update", "delete"] as const) {
      const command = step[kind];
      if (command) commands.push({ name: `auto/${step.id}/${kind}`, command });
    }
  }
  return commands;
}

/** The root script inside a command's here-document. */
function rootScriptOf(command: string): string {
  const match = new RegExp(`<<'(${SCRIPT_DELIMITER_PREFIX}[0-9a-f]+)'\\n([^]*?)\\n\\1\\n`).exec(command);
  if (!match?.[2]) throw new Error("no root script");
  return match[2];
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
      [
        "-c",
        `set -euo pipefail; file="$1"; work="$2"; ${piece("install.sh", `pick-${format}`)}; echo "$expected"`,
        "pick",
        file,
        work,
      ],
      {
        encoding: "utf8",
      },
    );
    fs.rmSync(work, { recursive: true });
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(expected);
  });
});

describe("install steps stage their files beside the install directory", () => {
  // Runs a step's stage set-up (the lines from `dir=` to `stage=`) in a scratch
  // directory standing for the install directory, as bash on the worker would.
  const stageSetup = (part: Part, dir: string): string => {
    const body = installScript({ worker: "w", step: part }, artifactFor(part, DEFAULT_VERSIONS[part], "amd64", ""));
    const lines = body.split("\n");
    const from = lines.findIndex((line) => line.startsWith("dir="));
    const to = lines.findIndex((line) => line.startsWith("stage="));
    return [`dir=${dir}`, ...lines.slice(from + 1, to + 1), 'echo "$stage"'].join("\n");
  };

  it("a step clears only its own leftover stage, so steps sharing a directory cannot remove each other's", () => {
    // containerd and crictl both install into /usr/local/bin and run at the same time.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stage-"));
    try {
      const run = (part: Part) => spawnSync("bash", ["-c", stageSetup(part, dir)], { encoding: "utf8" });
      const containerdStage = run("containerd").stdout.trim();
      expect(fs.existsSync(containerdStage)).toBe(true);
      const crictlStage = run("crictl").stdout.trim();
      expect(fs.existsSync(containerdStage)).toBe(true);
      expect(fs.existsSync(crictlStage)).toBe(true);
      // A second run of the same step removes its own leftover (a killed run's), and only that.
      const nextContainerdStage = run("containerd").stdout.trim();
      expect(fs.existsSync(containerdStage)).toBe(false);
      expect(fs.existsSync(nextContainerdStage)).toBe(true);
      expect(fs.existsSync(crictlStage)).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the reset script (destroy)", () => {
  const label = { worker: "worker-0", step: "reset" };

  it("stops containers through the runtime, then containerd, then forces what is left, then unmounts, then purges", () => {
    const text = resetScript(label, true);
    const phases = [
      '"$crictl" stopp',
      "tasks kill --signal SIGTERM",
      "tasks delete --force",
      "systemctl stop containerd",
      '"$runc" --root "$root" delete --force',
      'kill -KILL "${pids[@]}"',
      "umount --",
      "rm -rf --one-file-system",
    ];
    const positions = phases.map((phase) => text.indexOf(phase));
    for (const [index, phase] of phases.entries()) expect(positions[index], phase).toBeGreaterThan(-1);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });

  it.each([
    [false, "kept"],
    [true, "removed"],
  ])("purgeState %s: the state directories are %s", (purge, verb) => {
    const text = resetScript(label, purge);
    expect(text).toContain(`${verb} ${PURGED_STATE_DIRS.join(", ")}`);
    expect(text.includes("rm -rf")).toBe(purge);
    expect(text.includes("-delete")).toBe(purge);
  });

  it("finds the shims of this containerd by their command line, and no other process", async () => {
    // Each process renames itself (argv[0]) and carries the arguments a shim has.
    const impostor = (argv0: string, args: string) =>
      spawn("bash", ["-c", `exec -a ${argv0} bash -c 'sleep 30; :' x ${args}`], { stdio: "ignore" });
    const processes = {
      ours: impostor(
        "/usr/local/bin/containerd-shim-runc-v2",
        "-namespace k8s.io -id a -address /run/containerd/containerd.sock",
      ),
      otherRuntime: impostor(
        "containerd-shim-runc-v2",
        "-namespace moby -id b -address /run/docker/containerd/containerd.sock",
      ),
      namesAShim: impostor("bash", "containerd-shim-runc-v2 -address /run/containerd/containerd.sock"),
    };
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const found = spawnSync("bash", ["-c", `set -euo pipefail\n${piece("reset.sh", "shims")}\nshims`], {
        encoding: "utf8",
      });
      expect(found.status).toBe(0);
      const pids = new Set(found.stdout.split("\n"));
      const seen = Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, pids.has(String(p.pid))]));
      expect(seen).toEqual({ ours: true, otherRuntime: false, namesAShim: false });
    } finally {
      for (const p of Object.values(processes)) p.kill("SIGKILL");
    }
  });
});

describe("the install step's self-check", () => {
  // The self-check lines of each part's install script, run against a stand-in for the binary it names
  // in a directory playing the unpacked stage.
  const selfCheckLines = (part: Part): string => {
    const body = installScript({ worker: "w", step: "runc" }, artifactFor(part, "1.2.3", "amd64", ""));
    const lines = body.split("\n");
    const from = lines.findIndex((line) => line.startsWith("if ! out="));
    const to = lines.findIndex((line, i) => i > from && line.startsWith("[[ $out == "));
    return lines.slice(from, to + 1).join("\n");
  };
  const runWith = (part: Part, standIn: string) => {
    const { binary } = artifactFor(part, "1.2.3", "amd64", "").selfCheck;
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "selfcheck-"));
    fs.writeFileSync(path.join(src, binary), `#!/bin/sh\n${standIn}\n`, { mode: 0o755 });
    const result = spawnSync(
      "bash",
      ["-c", `fail() { echo "$*" >&2; exit 1; }\nfile=release.tgz\nsrc=${src}\n${selfCheckLines(part)}`],
      { encoding: "utf8" },
    );
    fs.rmSync(src, { recursive: true });
    return result;
  };
  // What each release's binary answers, in the form the check must accept; a CNI plugin answers only
  // when asked for its VERSION, as a runtime asks.
  const ANSWERS: Record<Part, string> = {
    containerd: 'echo "containerd github.com/containerd/containerd/v2 v1.2.3 abcdef"',
    runc: 'printf "runc version 1.2.3\\ncommit: v1.2.3-0-g0\\n"',
    cni: '[ "$CNI_COMMAND" = VERSION ] && echo \'{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}\'',
    crictl: 'echo "crictl version v1.2.3"',
  };

  it.each(PARTS)("%s: passes on the binary's own answer", (part) => {
    const result = runWith(part, ANSWERS[part]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.each(PARTS)("%s: fails, naming the binary, the file and what it expected, on another answer", (part) => {
    const result = runWith(part, 'echo "something else"');
    expect(result.status).toBe(1);
    const { binary, expect: wanted } = artifactFor(part, "1.2.3", "amd64", "").selfCheck;
    expect(result.stderr).toBe(`${binary} from release.tgz answered 'something else', expected ${wanted.what}\n`);
  });

  it.each(PARTS)("%s: fails with the binary's own error when it does not run", (part) => {
    const result = runWith(part, 'echo "cannot execute binary file: Exec format error" >&2; exit 126');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/ from release\.tgz does not run on this worker: cannot execute binary file/);
  });
});

describe("a containerd that cannot run on the worker's glibc", () => {
  // The install step's self-check, run against a stand-in binary that fails as the dynamic loader
  // does on an old glibc (the words are the loader's), and against one that fails another way.
  const selfCheckOf = (staticBuild: boolean): string => {
    const body = installScript(
      { worker: "w", step: "containerd" },
      artifactFor("containerd", "2.1.9", "amd64", "", { staticBuild }),
    );
    const lines = body.split("\n");
    const from = lines.findIndex((line) => line.startsWith("if ! out="));
    return lines.slice(from, from + (staticBuild ? 3 : 4)).join("\n");
  };
  const run = (staticBuild: boolean, stderr: string) => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "selfcheck-"));
    fs.writeFileSync(path.join(src, "containerd"), `#!/bin/sh\necho ${shellQuote(stderr)} >&2\nexit 1\n`, {
      mode: 0o755,
    });
    const result = spawnSync(
      "bash",
      ["-c", `fail() { echo "$*" >&2; exit 1; }\nfile=containerd.tar.gz\nsrc=${src}\n${selfCheckOf(staticBuild)}`],
      { encoding: "utf8" },
    );
    fs.rmSync(src, { recursive: true });
    return result;
  };
  const loader = "containerd: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by containerd)";

  it("names the loader's message and the fix for the dynamic build", () => {
    const result = run(false, loader);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`does not run on this worker: ${loader}`);
    expect(result.stderr).toContain("set staticBuild to install its static release");
  });

  it("gives the plain failure for any other error, and for the static build", () => {
    expect(run(false, "Segmentation fault").stderr).not.toContain("staticBuild");
    expect(run(true, loader).stderr).toContain(`does not run on this worker: ${loader}`);
    expect(run(true, loader).stderr).not.toContain("staticBuild");
  });
});

describe("adoption: a worker's own files are kept aside before the first overwrite and put back on destroy", () => {
  // The steps' real scripts, run by bash with every path they touch moved under a scratch root.
  const PREFIXES = ["/etc/", PATHS.manifestDir, "/run/containerd-worker", "/usr/local/", "/opt/cni/"];
  let root = "";
  const rooted = (text: string) => PREFIXES.reduce((t, prefix) => t.replaceAll(prefix, `${root}${prefix}`), text);
  const at = (p: string) => `${root}${p}`;
  /** Where a step keeps its copy of `p`. */
  const copyOf = (step: StepId, p: string) => `${at(ADOPTED_DIR)}/${step}${at(p)}`;
  /** systemctl as the unit scripts use it, its enablement kept in a file, every call logged. */
  const SYSTEMCTL_STUB = [
    "systemctl() {",
    '  echo "$*" >>"$STUB/log"',
    "  case $1 in",
    '    is-enabled) cat "$STUB/enabled"; [[ $(cat "$STUB/enabled") == enabled ]] ;;',
    '    enable) echo enabled >"$STUB/enabled" ;;',
    '    disable) echo disabled >"$STUB/enabled" ;;',
    "    show) echo 0 ;;",
    "  esac",
    "}",
  ].join("\n");
  const run = (text: string, input = "") =>
    spawnSync("bash", ["-c", `${SYSTEMCTL_STUB}\n${rooted(text)}`], {
      input,
      encoding: "utf8",
      env: { ...process.env, STUB: root },
    });
  const ok = (text: string, input = ""): string => {
    const result = run(text, input);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout;
  };
  const plan = planWorker("worker-0", resolveOptions({}));
  const stepScript = (id: StepId, kind: "create" | "delete"): string => {
    const command = plan.steps.find((step) => step.id === id)?.[kind];
    if (command === undefined) throw new Error(`no ${kind} for ${id}`);
    return rootScriptOf(command);
  };
  /** Everything adoption must keep of a file. */
  const facts = (file: string) => {
    const stat = fs.lstatSync(file, { bigint: true });
    return { content: fs.readFileSync(file, "utf8"), mode: stat.mode & 0o7777n, uid: stat.uid, mtimeNs: stat.mtimeNs };
  };
  const asRoot = process.getuid?.() === 0;
  /** A file of the operator's: its own mode, owner (when the test can set one) and an old mtime. */
  const handMade = (p: string, content: string, mode: number) => {
    fs.mkdirSync(path.dirname(at(p)), { recursive: true });
    fs.writeFileSync(at(p), content, { mode });
    fs.chmodSync(at(p), mode);
    if (asRoot) fs.chownSync(at(p), 1234, 1234);
    fs.utimesSync(at(p), new Date("2020-01-02T03:04:05.678Z"), new Date("2020-01-02T03:04:05.678Z"));
    return facts(at(p));
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "adopt-"));
    fs.mkdirSync(at("/run"));
    fs.writeFileSync(at("/enabled"), "enabled\n");
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  it.each(["config", "crictl-yaml"] as const)(
    "%s: the operator's file is kept aside once, never again, and put back byte for byte; a rerun leaves it",
    (step) => {
      const file = step === "config" ? PATHS.containerdConfig : PATHS.crictlConfig;
      const operator = handMade(file, "# set up by hand\n", 0o640);

      const first = ok(stepScript(step, "create"), "ours = 1\n");
      expect(first).toContain(`adopted ${at(file)} (kept aside; put back on destroy)`);
      expect(fs.readFileSync(at(file), "utf8")).toBe("ours = 1\n");
      expect(facts(copyOf(step, file))).toEqual(operator);
      expect(fs.statSync(at(ADOPTED_DIR)).mode & 0o777).toBe(0o700);

      // The step's own file is never taken for the operator's: the copy stays the first one.
      const second = ok(stepScript(step, "create"), "ours = 2\n");
      expect(second).not.toContain("adopted");
      expect(facts(copyOf(step, file))).toEqual(operator);

      const destroy = ok(stepScript(step, "delete"));
      expect(destroy).toContain(`put back ${at(file)}`);
      expect(facts(at(file))).toEqual(operator);
      expect(fs.existsSync(at(PATHS.manifestDir))).toBe(false);

      ok(stepScript(step, "delete"));
      expect(facts(at(file))).toEqual(operator);
    },
  );

  it("config: with no file there, nothing is adopted and destroy removes the one it wrote", () => {
    expect(ok(stepScript("config", "create"), "ours = 1\n")).not.toContain("adopted");
    expect(fs.existsSync(at(ADOPTED_DIR))).toBe(false);
    ok(stepScript("config", "delete"));
    expect(fs.existsSync(at(PATHS.containerdConfig))).toBe(false);
    expect(fs.existsSync(at("/etc/containerd"))).toBe(false);
  });

  it.each([
    ["after putting the file back", false],
    ["after putting it back and forgetting the record", true],
  ])("config: a destroy interrupted %s converges on a rerun", (_when, recordGone) => {
    const operator = handMade(PATHS.containerdConfig, "# set up by hand\n", 0o600);
    ok(stepScript("config", "create"), "ours = 1\n");
    // What the interrupted run had done.
    fs.copyFileSync(copyOf("config", PATHS.containerdConfig), at(PATHS.containerdConfig));
    fs.chmodSync(at(PATHS.containerdConfig), 0o600);
    if (asRoot) fs.chownSync(at(PATHS.containerdConfig), 1234, 1234);
    const { mtime } = fs.statSync(copyOf("config", PATHS.containerdConfig));
    fs.utimesSync(at(PATHS.containerdConfig), mtime, mtime);
    if (recordGone) fs.rmSync(at(`${PATHS.manifestDir}/config.files`));

    ok(stepScript("config", "delete"));
    expect(facts(at(PATHS.containerdConfig))).toEqual(operator);
    expect(fs.existsSync(at(ADOPTED_DIR))).toBe(false);
  });

  /** A release of runc 1.2.3 with its checksum file, in `dir` below the scratch root as a mirror serves it. */
  const serveRunc = (dir: string): string => {
    const release = path.join(root, dir, "opencontainers/runc/releases/download/v1.2.3");
    fs.mkdirSync(release, { recursive: true });
    const runc = '#!/bin/sh\necho "runc version 1.2.3"\n';
    fs.writeFileSync(path.join(release, "runc.amd64"), runc);
    const digest = spawnSync("sha256sum", [path.join(release, "runc.amd64")], { encoding: "utf8" }).stdout.split(
      " ",
    )[0];
    fs.writeFileSync(path.join(release, "runc.sha256sum"), `${digest}  runc.amd64\n`);
    return runc;
  };

  it("an install step adopts the operator's binary before installing over it and puts it back on uninstall", () => {
    // A release of runc 1.2.3 served from a directory, as a mirror would: the script downloads it with curl.
    // The URLs relative to the base, which the step reads from standard input.
    const artifact = artifactFor("runc", "1.2.3", "amd64", "");
    const download = `file://${root}/mirror\nfile://${root}/mirror\n`;
    const runc = serveRunc("mirror");
    const label = { worker: "worker-0", step: "runc" };
    const operator = handMade(PATHS.runcBinary, '#!/bin/sh\necho "runc version 1.1.0"\n', 0o750);

    expect(ok(installScript(label, artifact), download)).toContain(
      `adopted ${at(PATHS.runcBinary)} (kept aside; put back on destroy)`,
    );
    expect(fs.readFileSync(at(PATHS.runcBinary), "utf8")).toBe(runc);
    expect(facts(copyOf("runc", PATHS.runcBinary))).toEqual(operator);
    expect(ok(installScript(label, artifact), download)).not.toContain("adopted");
    expect(facts(copyOf("runc", PATHS.runcBinary))).toEqual(operator);

    ok(uninstallScript(label, artifact));
    expect(facts(at(PATHS.runcBinary))).toEqual(operator);
    expect(fs.existsSync(at(ADOPTED_DIR))).toBe(false);
    ok(uninstallScript(label, artifact));
    expect(facts(at(PATHS.runcBinary))).toEqual(operator);
  });

  it("an install step fetches a base URL with [ ] in it as it is, not as a range of URLs", () => {
    const artifact = artifactFor("runc", "1.2.3", "amd64", "");
    const base = `file://${root}/mirror[1]`;
    const runc = serveRunc("mirror[1]");
    ok(installScript({ worker: "worker-0", step: "runc" }, artifact), `${base}\n${base}\n`);
    expect(fs.readFileSync(at(PATHS.runcBinary), "utf8")).toBe(runc);
  });

  it.each([
    ["enabled", "enabled"],
    ["disabled", "disabled"],
  ])("unit: the operator's unit, %s, is put back %s", (was, after) => {
    fs.writeFileSync(at("/enabled"), `${was}\n`);
    const operator = handMade(PATHS.containerdUnit, "[Service]\nExecStart=/usr/local/bin/containerd\n", 0o644);
    expect(ok(stepScript("unit", "create"), renderContainerdUnit())).toContain(`adopted ${at(PATHS.containerdUnit)}`);
    expect(fs.readFileSync(at("/enabled"), "utf8")).toBe("enabled\n");

    ok(stepScript("unit", "delete"));
    expect(facts(at(PATHS.containerdUnit))).toEqual(operator);
    expect(fs.readFileSync(at("/enabled"), "utf8")).toBe(`${after}\n`);

    // A rerun finds the operator's unit: it neither disables nor removes it.
    fs.writeFileSync(at("/log"), "");
    ok(stepScript("unit", "delete"));
    expect(facts(at(PATHS.containerdUnit))).toEqual(operator);
    expect(fs.readFileSync(at("/log"), "utf8")).not.toMatch(/disable|enable/);
  });

  it("unit: with no unit there, destroy disables and removes the one it wrote", () => {
    fs.writeFileSync(at("/enabled"), "disabled\n");
    expect(ok(stepScript("unit", "create"), renderContainerdUnit())).not.toContain("adopted");
    ok(stepScript("unit", "delete"));
    expect(fs.existsSync(at(PATHS.containerdUnit))).toBe(false);
    expect(fs.readFileSync(at("/enabled"), "utf8")).toBe("disabled\n");
  });
});

describe("the unit step restarts a containerd it found running only when its binary or config changed", () => {
  // `stale PID BINARY CONFIG` against a real process: a copy of sleep standing for containerd.
  let dir = "";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "stale-"));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const stale = (pid: number) =>
    spawnSync(
      "bash",
      [
        "-c",
        `${piece("lib.sh", "adopt")}\n${piece("lib.sh", "unit-adopt")}\nstale "$1" "$2" "$3"`,
        "x",
        String(pid),
        `${dir}/containerd`,
        `${dir}/config.toml`,
      ],
      { encoding: "utf8" },
    );
  /** Replaces `file` as the install step does: a new file renamed over it. */
  const replace = (file: string, from: string) => {
    fs.copyFileSync(from, `${file}.new`);
    fs.chmodSync(`${file}.new`, 0o755);
    fs.renameSync(`${file}.new`, file);
  };

  it("not when both are as it started with (the same bytes installed again too); when either changed, saying which", async () => {
    const sleep = spawnSync("bash", ["-c", "type -P sleep"], { encoding: "utf8" }).stdout.trim();
    replace(`${dir}/containerd`, sleep);
    fs.writeFileSync(`${dir}/config.toml`, "version = 3\n");
    fs.utimesSync(`${dir}/config.toml`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const process_ = spawn(`${dir}/containerd`, ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pid = process_.pid ?? 0;
      expect(stale(pid).status).toBe(1);
      replace(`${dir}/containerd`, sleep);
      expect(stale(pid).status).toBe(1);

      fs.writeFileSync(`${dir}/config.toml`, "version = 3\n# changed\n");
      expect(stale(pid)).toMatchObject({ status: 0, stdout: `${dir}/config.toml changed after it started\n` });

      fs.utimesSync(`${dir}/config.toml`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      replace(`${dir}/containerd`, spawnSync("bash", ["-c", "type -P true"], { encoding: "utf8" }).stdout.trim());
      expect(stale(pid)).toMatchObject({ status: 0, stdout: `its binary differs from ${dir}/containerd\n` });
    } finally {
      process_.kill("SIGKILL");
    }
  });
});

describe("the verify step's config dump check (found by tests/hostileInput.test.ts)", () => {
  // The dump check of a verify script (its section() and grep lines), run against a dump as containerd prints it.
  const dumpCheck = (settings: ContainerdSettings, dump: string) => {
    const { dumpExpectations } = renderContainerdConfig({
      containerdVersion: "2.3.1",
      sandboxImage: "pause:3.9",
      systemdCgroup: true,
      settings,
    });
    const configDump = dumpExpectations.filter((e) => e.key.startsWith("proxy_plugins"));
    const lines = verifyScript(
      { worker: "w", step: "verify" },
      { containerdVersion: "2.3.1", systemdCgroup: true, configDump },
    ).split("\n");
    const from = lines.findIndex((line) => line.startsWith("section() {"));
    const to = lines.length - 1 - [...lines].reverse().findIndex((line) => line.startsWith("check_dump "));
    const check = [
      'fail() { echo "$*" >&2; exit 1; }',
      `dump=$(awk '{ $1 = $1; print }' <<<${shellQuote(dump)})`,
      ...lines.slice(from, to + 1),
    ].join("\n");
    return spawnSync("bash", ["-c", check], { encoding: "utf8" });
  };

  it("finds a table whose name holds a backslash, and a key and value holding two spaces in a row", () => {
    const settings = { extraConfig: { proxy_plugins: { "a\\b  c": { type: "snapshot", address: "/run/x  y.sock" } } } };
    const dump = "[proxy_plugins.'a\\b  c']\n  address = '/run/x  y.sock'\n  type = 'snapshot'\n";
    const result = dumpCheck(settings, dump);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("still fails when the dump shows another value", () => {
    const settings = { extraConfig: { proxy_plugins: { "a\\b  c": { type: "snapshot", address: "/run/x  y.sock" } } } };
    const dump = "[proxy_plugins.'a\\b  c']\n  address = '/run/x  z.sock'\n  type = 'snapshot'\n";
    expect(dumpCheck(settings, dump).stderr).toMatch(
      /containerd config dump does not show proxy_plugins.* as rendered/,
    );
  });
});
