// Static builds, as upstream's releases have and Debian does not ship:
// containerd's static release, and runc and the CNI plugins, which upstream
// releases only static. Built here with Debian's Go from Debian's own sources
// (golang-github-containerd-containerd-dev and golang-github-opencontainers-
// runc-dev, full trees; the CNI plugins' upstream tarball from Debian's source
// package, as that -dev package holds only their libraries) and the Go
// libraries those packages depend on, in a Debian sid root; the Go builds
// themselves run offline. Nothing comes from anywhere but the machine's Debian
// archive.
//
// Both the build root (about a minute and a half: debootstrap and the Go
// packages) and the binaries (about a minute of go build on two CPUs) are
// cached under the e2e cache dir, each under a key of its recipe, built aside
// and renamed when complete, under one lock.

import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

import { debianArchive } from "../aptSources";
import { acquireLock } from "../sandbox/worker";
import { pruneStale } from "./cache";

const run = promisify(execFile);

/** The suite whose containerd sources are built: the one the mirror's dynamic containerd comes from. */
const SUITE = "sid";
const SOURCE_PACKAGE = "golang-github-containerd-containerd-dev";
const RUNC_SOURCE_PACKAGE = "golang-github-opencontainers-runc-dev";
/** The CNI plugins' source package, and its -dev package for the Go libraries the plugins import. */
const CNI_SOURCE_PACKAGE = "golang-github-containernetworking-plugins";
const CNI_DEV_PACKAGE = "golang-github-containernetworking-plugins-dev";
// runc needs cgo (its nsenter is C) and libseccomp, linked statically as upstream's runc.<arch> is.
const ROOT_PACKAGES = [
  "golang-go",
  SOURCE_PACKAGE,
  RUNC_SOURCE_PACKAGE,
  CNI_DEV_PACKAGE,
  "gcc",
  "libc6-dev",
  "libseccomp-dev",
  "xz-utils",
];
/** Where the root keeps the CNI plugins' upstream tarball (\`apt-get source --download-only\`). */
const CNI_SOURCE_DIR = "/usr/src/cni-plugins";
/** The binaries of containerd's release tarballs, under bin/. */
export const STATIC_BINARIES = ["containerd", "containerd-shim-runc-v2", "ctr"] as const;

/** The containerd v2 module in the build root, where Debian installs it (the directory above is the 1.x import path). */
const SOURCE_DIR = "/usr/share/gocode/src/github.com/containerd/containerd/v2";
const RUNC_SOURCE_DIR = "/usr/share/gocode/src/github.com/opencontainers/runc";
/** The CNI plugins this builds: upstream's release set for Linux, in its build_linux.sh's directories. */
const CNI_PLUGIN_DIRS = ["plugins/main", "plugins/ipam", "plugins/meta"] as const;

// GOPATH mode: Debian lays its Go libraries out as one GOPATH (containerd's under
// its /v2 import path), so the build needs no module download. No cgo, so no libc
// at all (btrfs, the one builtin that needs cgo, is left out); -trimpath and
// -s -w as upstream's release builds; the version stamped as upstream's.
// runc as upstream's \`make static\`: cgo, seccomp, glibc and libseccomp linked in.
const BUILD_SCRIPT = `set -eu
upstream() { v=\${1%%+*}; echo "\${v%%~*}"; }
version=$(dpkg-query -W -f='\${Version}' ${SOURCE_PACKAGE})
runc_version=$(dpkg-query -W -f='\${Version}' ${RUNC_SOURCE_PACKAGE})
pkg=github.com/containerd/containerd/v2
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOTOOLCHAIN=local GOCACHE=/tmp/go-cache HOME=/tmp
mkdir -p /out/bin /out/sbin
cd ${SOURCE_DIR}
CGO_ENABLED=0 go build -trimpath -tags "no_btrfs netgo osusergo static_build" \\
  -ldflags "-s -w -X $pkg/version.Version=v$(upstream "$version") -X $pkg/version.Revision=debian-$version -X $pkg/version.Package=$pkg" \\
  -o /out/bin/ ${STATIC_BINARIES.map((b) => `./cmd/${b}`).join(" ")}
cd ${RUNC_SOURCE_DIR}
CGO_ENABLED=1 go build -trimpath -tags "seccomp netgo osusergo" \\
  -ldflags "-s -w -linkmode external -extldflags -static -X main.version=$(upstream "$runc_version") -X main.gitCommit=debian-$runc_version" \\
  -o /out/sbin/runc .
# The CNI plugins from their upstream tarball, in a GOPATH of their own ahead of Debian's for their own packages;
# no cgo, the version stamped where upstream's build stamps it.
cni_version=$(dpkg-query -W -f='\${Version}' ${CNI_DEV_PACKAGE})
cni=/tmp/cni-gopath/src/github.com/containernetworking/plugins
rm -rf /tmp/cni-gopath && mkdir -p "$cni" /out/cni
tar -xf ${CNI_SOURCE_DIR}/*.orig.tar.* -C "$cni" --strip-components=1
cd "$cni"
for dir in ${CNI_PLUGIN_DIRS.map((d) => `${d}/*/`).join(" ")}; do
  case $dir in */windows/) continue ;; esac
  GOPATH=/tmp/cni-gopath:/usr/share/gocode CGO_ENABLED=0 go build -trimpath -tags "netgo osusergo" \\
    -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=v$(upstream "$cni_version")" \\
    -o /out/cni/ "./$dir"
done
printf '%s\\n' "$(upstream "$version")" "$version" "$(go version)" "$(upstream "$runc_version")" "$runc_version" \\
  "$(upstream "$cni_version")" "$cni_version" > /out/versions
`;

/** The cache entries of this module: build roots, builds (and those of its older recipes), unfinished ones. */
const STATIC_ENTRIES = /^(gobuild-root|static-builds|static-containerd)-[0-9a-f]+(\.tmp)?$/;

/** Bump when the build root's making changes. */
const ROOT_RECIPE = { v: 1, suite: SUITE, packages: ROOT_PACKAGES };
/** Bump (or edit the script) when the build changes. */
const BUILD_RECIPE = { v: 1, script: BUILD_SCRIPT };

/** One project's static build: its upstream version and the Debian sources it came from. */
export interface StaticSource {
  /** Upstream version, e.g. "2.1.9". */
  version: string;
  /** The Debian package of the sources and its version (e.g. "2.1.9+ds1-5"). */
  sourcePackage: string;
  debianVersion: string;
}

export interface StaticBuilds {
  /** Holds bin/containerd, bin/containerd-shim-runc-v2, bin/ctr, sbin/runc and cni/ (the plugins). */
  dir: string;
  containerd: StaticSource;
  runc: StaticSource;
  cni: StaticSource;
  /** The suite of the sources. */
  suite: string;
  /** `go version` of the compiler. */
  goVersion: string;
  /** A key of the recipes, for the caches built on top of it. */
  key: string;
}

export interface StaticBuildOptions {
  cacheDir: string;
  log: (message: string) => void;
}

const key = (recipe: object): string =>
  crypto.createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 12);

/** Builds (once) and returns the static containerd, runc and CNI plugins. Needs root (debootstrap, chroot). */
export async function ensureStaticBuilds({ cacheDir, log }: StaticBuildOptions): Promise<StaticBuilds> {
  const rootKey = key({ ...ROOT_RECIPE, arch: process.arch });
  const buildKey = key({ rootKey, ...BUILD_RECIPE });
  const out = path.join(cacheDir, `static-builds-${buildKey}`);
  // Build roots and builds of other recipes are gigabytes each.
  pruneStale(cacheDir, STATIC_ENTRIES, [path.join(cacheDir, `gobuild-root-${rootKey}`), out]);
  const cached = readBuild(out, buildKey);
  if (cached) return cached;

  fs.mkdirSync(cacheDir, { recursive: true });
  const lock = path.join(cacheDir, "static-builds.lock");
  await acquireLock(lock, "another process building the static containerd, runc and CNI plugins", 60 * 60_000);
  try {
    const again = readBuild(out, buildKey);
    if (again) return again;
    const root = await ensureBuildRoot(cacheDir, rootKey, log);
    const started = Date.now();
    log(`building static containerd, runc and CNI plugins from Debian's sources (${SUITE})`);
    const work = path.join(root, "out");
    fs.rmSync(work, { recursive: true, force: true });
    await inRoot(root, ["/bin/sh", "-c", BUILD_SCRIPT]);
    const tmp = `${out}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.renameSync(work, tmp);
    fs.rmSync(path.join(root, "tmp", "go-cache"), { recursive: true, force: true });
    fs.renameSync(tmp, out);
    log(`static containerd, runc and CNI plugins built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    fs.rmSync(lock, { force: true });
  }
  const built = readBuild(out, buildKey);
  if (!built) throw new Error(`static build at ${out} is incomplete`);
  return built;
}

function readBuild(dir: string, buildKey: string): StaticBuilds | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dir, "versions"), "utf8").split("\n");
  } catch {
    return undefined;
  }
  const [version, debianVersion, goVersion, runcVersion, runcDebianVersion, cniVersion, cniDebianVersion] = lines;
  if (!version || !debianVersion || !goVersion || !runcVersion || !runcDebianVersion) return undefined;
  if (!cniVersion || !cniDebianVersion) return undefined;
  return {
    dir,
    containerd: { version, sourcePackage: SOURCE_PACKAGE, debianVersion },
    runc: { version: runcVersion, sourcePackage: RUNC_SOURCE_PACKAGE, debianVersion: runcDebianVersion },
    cni: { version: cniVersion, sourcePackage: CNI_SOURCE_PACKAGE, debianVersion: cniDebianVersion },
    suite: SUITE,
    goVersion,
    key: buildKey,
  };
}

/** The sid root with Debian's Go, a C toolchain, and the sources to build; built once (we hold the lock). */
async function ensureBuildRoot(cacheDir: string, rootKey: string, log: (message: string) => void): Promise<string> {
  const root = path.join(cacheDir, `gobuild-root-${rootKey}`);
  const stamp = path.join(root, "etc", "cw-e2e-gobuild-root");
  if (fs.existsSync(stamp)) return root;
  // A root without a stamp, or one left by a process that died mid-build: start over.
  const tmp = `${root}.tmp`;
  for (const dir of [root, tmp]) await run("rm", ["-rf", "--one-file-system", "--", dir]);

  const started = Date.now();
  const archive = debianArchive().uri;
  log(`debootstrap ${SUITE} (minbase) for the static builds from ${archive}`);
  await run("debootstrap", ["--variant=minbase", SUITE, tmp, archive], { maxBuffer: 64 << 20 });
  // apt in the root reaches the archive with the host's network and resolver.
  fs.rmSync(path.join(tmp, "etc", "resolv.conf"), { force: true });
  fs.copyFileSync("/etc/resolv.conf", path.join(tmp, "etc", "resolv.conf"));
  log(`apt-get install ${ROOT_PACKAGES.join(" ")} in the build root`);
  const apt = ["apt-get", "-q", ...(await hostValidUntil())];
  await inRoot(tmp, [...apt, "update"]);
  await inRoot(tmp, [...apt, "-y", "--no-install-recommends", "install", ...ROOT_PACKAGES]);
  // The CNI plugins' upstream tarball, from the source package of the same version as their -dev package. apt
  // checks each file against the signed Sources index as it arrives; an archive that lacks the package's other
  // files (.dsc, debian.tar) fails the command, so the tarball is checked for by name afterwards.
  fs.appendFileSync(path.join(tmp, "etc", "apt", "sources.list"), `deb-src ${archive} ${SUITE} main\n`);
  await inRoot(tmp, [...apt, "update"]);
  const source = await inRoot(tmp, [
    "/bin/sh",
    "-c",
    `mkdir -p ${CNI_SOURCE_DIR} && cd ${CNI_SOURCE_DIR} && ${apt.join(" ")} source --download-only ${CNI_SOURCE_PACKAGE}=$(dpkg-query -W -f='\${source:Version}' ${CNI_DEV_PACKAGE}) 2>&1 || true`,
  ]);
  if (!fs.readdirSync(path.join(tmp, CNI_SOURCE_DIR)).some((name) => name.includes(".orig.tar."))) {
    throw new Error(`apt-get source ${CNI_SOURCE_PACKAGE} gave no upstream tarball:\n${source}`);
  }
  await inRoot(tmp, [...apt, "clean"]);
  fs.writeFileSync(path.join(tmp, "etc", "cw-e2e-gobuild-root"), JSON.stringify({ key: rootKey, ...ROOT_RECIPE }));
  fs.renameSync(tmp, root);
  log(`build root made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return root;
}

/**
 * The machine's own Acquire::Check-Valid-Until, for apt in the root: a machine whose archive is a dated snapshot
 * turns the check off, or its Release files read as expired. Signatures are checked either way.
 */
async function hostValidUntil(): Promise<string[]> {
  const { stdout } = await run("apt-config", ["dump", "Acquire::Check-Valid-Until"]);
  const value = /^Acquire::Check-Valid-Until "([^"]*)";$/m.exec(stdout)?.[1];
  return value === undefined ? [] : ["-o", `Acquire::Check-Valid-Until=${value}`];
}

/** Runs a command in the root, with a /proc of its own that goes away with it; returns its output. */
async function inRoot(root: string, command: string[]): Promise<string> {
  const { stdout } = await run(
    "unshare",
    ["--mount", "--pid", "--fork", `--mount-proc=${path.join(root, "proc")}`, "chroot", root, ...command],
    {
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        LANG: "C.UTF-8",
        DEBIAN_FRONTEND: "noninteractive",
      },
      maxBuffer: 256 << 20,
    },
  );
  return stdout;
}
