/**
 * Runs every step of a planned worker the way a worker would, on this machine, without touching it:
 * each whole command (the rootCommand wrapper) under `sh -c` as root, with the step's standard input,
 * inside a private mount and PID namespace (`unshare -m -p`). There, /etc is an overlay whose writes
 * land in a scratch directory, and /usr/local, /opt, /var/lib and /run are empty tmpfs mounts, so the
 * scripts' absolute paths (/usr/local/bin/containerd, /etc/containerd/config.toml,
 * /var/lib/containerd-worker) are real paths that vanish with the namespace; the PID namespace keeps
 * the reset step's process scan (shims) to the namespace's own processes and ends every process left
 * behind when the runner exits.
 *
 * Stubs first on PATH stand in for what a worker has and this machine must not run: systemctl (a state
 * file, and a sleeping process with the proxy environment as "containerd"), journalctl, uname (the
 * worker's machine), and curl, which records the --config it was given and serves release files built
 * here: tarballs of small shell scripts that answer as containerd, runc, a CNI plugin and crictl do.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Arch, artifactFor, Part, PARTS } from "../../components/catalog/catalog";
import { WorkerOptions } from "../../components/inputs/options";
import { shellQuote } from "../../components/worker/shell";
import { Step, WorkerPlan } from "../../components/plan/workerPlan";

const MACHINE: Record<Arch, string> = { amd64: "x86_64", arm64: "aarch64" };

/** What a run left behind: each command's status and output, the files the steps wrote, the URLs curl was given. */
export interface WorkerRun {
  /** `<step>.<create|update|delete>` in the order run. */
  results: { name: string; status: number; stdout: string; stderr: string }[];
  /** Files as they were after every create (and update) ran, by absolute path on the fake worker. */
  files: Map<string, Buffer>;
  /** Each `curl --config` file's text (in no particular order). */
  curlConfigs: string[];
  /** Regular files left once every delete ran, by absolute path. */
  leftAfterDestroy: string[];
}

/** Whether this process may make the namespaces the runs need (root with CAP_SYS_ADMIN). */
export function canRunFakeWorker(): boolean {
  const result = spawnSync("unshare", ["-m", "-p", "-f", "--mount-proc", "true"], { encoding: "utf8" });
  return result.status === 0;
}

function write(file: string, text: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

function tarball(dir: string, out: string): Buffer {
  const result = spawnSync("tar", ["-czf", out, "-C", dir, "."], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`tar: ${result.stderr}`);
  return fs.readFileSync(out);
}

/**
 * The release files of every part for this worker, under `served`, named as curl is asked for them
 * (the last segment of each URL): each binary answers its self-check and the steps' later questions.
 */
function serveReleases(box: string, options: WorkerOptions, arch: Arch, systemdCgroup: boolean): Record<Part, string> {
  const served = path.join(box, "served");
  const build = path.join(box, "build");
  const { versions } = options;
  const bins: Record<Part, [string, string][]> = {
    containerd: [
      [
        "bin/containerd",
        [
          "#!/bin/sh",
          `case "$1" in`,
          `  --version) echo ${shellQuote(`containerd github.com/containerd/containerd/v2 v${versions.containerd} fake`)} ;;`,
          `  config) cat ${shellQuote(path.join(box, "dump"))} ;;`,
          "esac",
        ].join("\n"),
      ],
    ],
    runc: [["runc", `#!/bin/sh\n[ "$1" != --version ] || printf 'runc version ${versions.runc}\\ncommit: fake\\n'\n`]],
    cni: [
      [
        "loopback",
        `#!/bin/sh\n[ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"1.1.0","supportedVersions":["1.0.0","1.1.0"]}'\n`,
      ],
    ],
    crictl: [
      [
        "crictl",
        [
          "#!/bin/sh",
          `case "$1" in`,
          `  --version) echo 'crictl version v${versions.crictl}' ;;`,
          `  version) printf 'Version:  0.1.0\\nRuntimeName:  containerd\\nRuntimeVersion:  v${versions.containerd}\\nRuntimeApiVersion:  v1\\n' ;;`,
          `  info) printf '{"config": {"containerd": {"runtimes": {"runc": {"options": {"SystemdCgroup": ${systemdCgroup}}}}}}, "lastCNILoadStatus": "OK"}\\n' ;;`,
          "esac",
        ].join("\n"),
      ],
    ],
  };
  const sums = {} as Record<Part, string>;
  for (const part of PARTS) {
    const artifact = artifactFor(part, versions[part], arch, "", { staticBuild: options.staticBuild });
    const name = artifact.fileName;
    const dir = path.join(build, part);
    for (const [file, text] of bins[part]) write(path.join(dir, file), `${text}\n`, 0o755);
    const data =
      artifact.packaging.kind === "binary"
        ? fs.readFileSync(path.join(dir, bins[part][0]?.[0] ?? ""))
        : tarball(dir, path.join(build, `${part}.tgz`));
    write(path.join(served, name), data);
    const sum = sha256(data);
    sums[part] = sum;
    const checksumName = artifact.checksumUrl.slice(artifact.checksumUrl.lastIndexOf("/") + 1);
    // Each project's own format (see catalog.ts): runc's one file names every arch.
    const checksum =
      artifact.checksumFormat === "bare-hex"
        ? `${sum}\n`
        : part === "runc"
          ? `${"0".repeat(64)}  runc.other\n${sum}  ${name}\n`
          : `${sum}  ${name}\n`;
    write(path.join(served, checksumName), checksum);
  }
  return sums;
}

/** The release files' sha256 (built once per box), so a run can pin checksums that match. */
export function releaseChecksums(box: string, options: WorkerOptions, arch: Arch): Record<Part, string> {
  const file = path.join(box, "served.json");
  if (!fs.existsSync(file)) write(file, JSON.stringify(serveReleases(box, options, arch, options.systemdCgroup)));
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<Part, string>;
}

function stubs(box: string, arch: Arch): void {
  const bin = path.join(box, "stubs");
  const state = path.join(box, "systemd");
  const q = shellQuote;
  write(
    path.join(bin, "curl"),
    [
      "#!/bin/bash",
      "# Records the --config it is given, then serves the file its URL names from the served directory.",
      "set -euo pipefail",
      `log=$(mktemp ${q(path.join(box, "curl"))}/call.XXXXXXXX)`,
      "config='' out=''",
      "while (( $# )); do",
      "  case $1 in",
      '    --config) cat "$2" >"$log"; config=$(cat "$log"); shift 2 ;;',
      "    -o) out=$2; shift 2 ;;",
      "    *) shift ;;",
      "  esac",
      "done",
      'url=${config#url = \\"}',
      'url=${url%\\"}',
      `file=${q(path.join(box, "served"))}/\${url##*/}`,
      '[[ -f $file ]] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }',
      'if [[ -n $out ]]; then cat "$file" >"$out"; else cat "$file"; fi',
    ].join("\n"),
    0o755,
  );
  write(
    path.join(bin, "systemctl"),
    [
      "#!/bin/bash",
      "# containerd's unit as a state directory; a started containerd is a sleeping process with the",
      "# proxy environment file's variables, as systemd's EnvironmentFile= gives them.",
      `state=${q(state)}`,
      'mkdir -p "$state"',
      `printf '%s\\n' "$*" >>${q(path.join(box, "systemctl.log"))}`,
      "stop() {",
      '  if [[ -f $state/pid ]]; then kill "$(cat "$state/pid")" 2>/dev/null || true; rm -f "$state/pid"; fi',
      '  rm -f "$state/active"',
      "}",
      "start() {",
      "  stop",
      "  local vars=()",
      "  if [[ -f /etc/containerd/http-proxy.env ]]; then",
      '    while IFS= read -r line; do [[ -z $line ]] || vars+=("$line"); done </etc/containerd/http-proxy.env',
      "  fi",
      '  env -i "${vars[@]}" sleep 600 </dev/null >/dev/null 2>&1 &',
      '  echo $! >"$state/pid"',
      '  touch "$state/active"',
      "}",
      "args=()",
      'for arg in "$@"; do [[ $arg == --* ]] || args+=("$arg"); done',
      'case "${args[0]:-} ${args[1]:-}" in',
      '  "is-active containerd") [[ -f $state/active ]] ;;',
      '  "is-enabled containerd") [[ -f $state/enabled ]] ;;',
      '  "enable containerd") touch "$state/enabled" ;;',
      '  "disable containerd") rm -f "$state/enabled"; [[ " $* " != *" --now "* ]] || stop ;;',
      '  "start containerd" | "restart containerd") start ;;',
      '  "stop containerd") stop ;;',
      '  "show -p") cat "$state/pid" ;;',
      '  "status containerd") echo "containerd.service - fake" ;;',
      '  "daemon-reload "* | "reset-failed containerd") ;;',
      '  *) echo "systemctl stub: unexpected: $*" >&2; exit 1 ;;',
      "esac",
    ].join("\n"),
    0o755,
  );
  write(path.join(bin, "journalctl"), "#!/bin/sh\necho '-- No entries --'\n", 0o755);
  write(
    path.join(bin, "uname"),
    `#!/bin/sh\ncase "$1" in -m) echo ${MACHINE[arch]} ;; -r) echo 6.1.0-fake ;; *) echo Linux ;; esac\n`,
    0o755,
  );
}

/** The commands of a plan in the order an up and then a destroy run them. */
function sequence(plan: WorkerPlan): { name: string; command: string; stdin: string }[] {
  const byId = new Map(plan.steps.map((step) => [step.id, step]));
  const pick = (id: string, kind: "create" | "update" | "delete") => {
    const step = byId.get(id as Step["id"]);
    const command = step?.[kind];
    return command === undefined ? [] : [{ name: `${id}.${kind}`, command, stdin: step?.stdin ?? "" }];
  };
  const up = ["ready", "runc", "containerd", "cni-plugins", "crictl", "config", "proxy", "registries", "crictl-yaml"];
  return [
    ...up.flatMap((id) => pick(id, "create")),
    ...pick("unit", "create"),
    // restart runs only as an update; here it runs once, as after a change.
    ...pick("restart", "update"),
    ...pick("verify", "create"),
    { name: "snapshot", command: "", stdin: "" },
    ...["verify", "reset", "unit", "crictl-yaml", "registries", "proxy", "config", "crictl", "cni-plugins"]
      .concat(["containerd", "runc"])
      .flatMap((id) => pick(id, "delete")),
  ];
}

/**
 * What `containerd config dump` prints on this fake worker: each rendered key as the verify step expects to
 * see it, under its table, as containerd prints its config (not whitespace folded: verify folds it).
 */
function fakeDump(plan: WorkerPlan): string {
  const expectations = plan.config.dumpExpectations;
  const top = expectations.filter((e) => e.headers.length === 0).map((e) => e.lines[0] ?? "");
  const tables = expectations
    .filter((e) => e.headers.length > 0)
    .flatMap((e) => ["", e.headers[0] ?? "", `  ${e.lines[0] ?? ""}`]);
  return `${[...top, ...tables].join("\n")}\n`;
}

/** Where the files the steps write are kept by the snapshot (paths on the fake worker). */
const KEPT = [
  "/etc/containerd",
  "/etc/crictl.yaml",
  "/etc/systemd/system/containerd.service",
  "/etc/systemd/system/containerd.service.d",
  "/var/lib/containerd-worker",
];
/** Where a destroy must leave no file of ours. */
const DESTROYED = [
  "/etc/containerd",
  "/etc/crictl.yaml",
  "/etc/systemd/system/containerd.service",
  "/etc/systemd/system/containerd.service.d",
  "/usr/local",
  "/opt",
  "/var/lib/containerd-worker",
];

function listFiles(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  if (!fs.lstatSync(root).isDirectory()) return [root];
  return fs.readdirSync(root, { recursive: true, encoding: "utf8" }).map((entry) => path.join(root, entry));
}

/**
 * Runs `plan` in a fake worker under `box` (a fresh scratch directory), with `cwd` as every command's
 * working directory. Throws when the namespace cannot be set up; a failing step is a result, not a throw.
 */
export function runFakeWorker(
  box: string,
  plan: WorkerPlan,
  options: WorkerOptions,
  arch: Arch,
  cwd: string,
): WorkerRun {
  stubs(box, arch);
  releaseChecksums(box, options, arch);
  write(path.join(box, "dump"), fakeDump(plan));
  fs.mkdirSync(path.join(box, "curl"));
  const steps = sequence(plan);
  const q = shellQuote;
  steps.forEach((step, index) => {
    write(path.join(box, "steps", `${index}.cmd`), step.command);
    write(path.join(box, "steps", `${index}.in`), step.stdin);
  });
  const snapshot = path.join(box, "snapshot");
  const lines = [
    "set -euo pipefail",
    `box=${q(box)}`,
    "# Nothing runs unless every mount is in place: the scripts write to /etc, /usr/local, /opt, /var/lib and /run.",
    "mount --make-rprivate /",
    'mkdir -p "$box/etc-upper" "$box/etc-work"',
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$box/etc-upper,workdir=$box/etc-work" /etc',
    'for dir in /usr/local /opt /var/lib /run; do mount -t tmpfs -o mode=0755 fake-worker "$dir"; done',
    'for dir in /etc /usr/local /opt /var/lib /run; do mountpoint -q "$dir" || { echo "not mounted: $dir" >&2; exit 99; }; done',
    "# A systemd host whose cloud-init is off.",
    "mkdir -p /run/systemd/system /etc/cloud && touch /etc/cloud/cloud-init.disabled",
    `export PATH=${q(path.join(box, "stubs"))}:/usr/sbin:/usr/bin:/sbin:/bin`,
    `cd ${q(cwd)}`,
    'mkdir -p "$box/out"',
    "run() {",
    "  local status=0",
    '  sh -c "$(cat "$box/steps/$1.cmd")" <"$box/steps/$1.in" >"$box/out/$1.out" 2>"$box/out/$1.err" || status=$?',
    '  echo "$status" >"$box/out/$1.status"',
    "}",
    "snapshot() {",
    `  for kept in ${KEPT.join(" ")}; do`,
    `    if [[ -e $kept ]]; then mkdir -p ${q(snapshot)}"\${kept%/*}" && cp -a "$kept" ${q(snapshot)}"$kept"; fi`,
    "  done",
    "}",
    ...steps.map((step, index) => (step.name === "snapshot" ? "snapshot" : `run ${index}`)),
    `find ${DESTROYED.join(" ")} -type f 2>/dev/null >"$box/left" || true`,
  ];
  write(path.join(box, "runner.sh"), `${lines.join("\n")}\n`);
  const result = spawnSync(
    "unshare",
    ["-m", "-p", "-f", "--mount-proc", "--propagation", "private", "bash", path.join(box, "runner.sh")],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (result.status !== 0) throw new Error(`the fake worker did not run (${result.status}): ${result.stderr}`);
  const read = (file: string) => fs.readFileSync(path.join(box, file), "utf8");
  const results = steps.flatMap((step, index) =>
    step.name === "snapshot"
      ? []
      : [
          {
            name: step.name,
            status: Number(read(`out/${index}.status`)),
            stdout: read(`out/${index}.out`),
            stderr: read(`out/${index}.err`),
          },
        ],
  );
  const files = new Map<string, Buffer>();
  for (const kept of KEPT) {
    for (const file of listFiles(path.join(snapshot, kept))) {
      if (fs.lstatSync(file).isFile()) files.set(file.slice(snapshot.length), fs.readFileSync(file));
    }
  }
  const curlDir = path.join(box, "curl");
  const curlConfigs = fs
    .readdirSync(curlDir)
    .sort()
    .map((name) => fs.readFileSync(path.join(curlDir, name), "utf8"));
  const leftAfterDestroy = read("left")
    .split("\n")
    .filter((line) => line !== "");
  return { results, files, curlConfigs, leftAfterDestroy };
}
