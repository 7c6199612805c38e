// A local copy of the upstream release artifacts the component downloads, built
// from Debian's packages (no other registry is reachable here) and laid out so
// that a path in the tree is the path of the upstream URL after https://github.com.
//
// Debian's archive URL is read at run time from the machine's own apt sources;
// apt runs with a private sources list, lists directory and cache, so the
// system's apt state is never touched.

import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

import { type AptSource, debianArchive } from "../aptSources";
import { pruneStale } from "./cache";
import { ensureStaticBuilds, STATIC_BINARIES, type StaticBuilds, type StaticSource } from "./staticBuild";

const run = promisify(execFile);

/** The crictl release the article pins; served by the e2e CRI client (crictl.py). */
export const CRICTL_VERSION = "1.36.0";

/** Bump when the packing below changes, so cached trees are rebuilt. */
const RECIPE = "releases-2";
/** Release trees of any recipe, and unfinished builds of them. */
const RELEASE_TREES = /^(\.tmp-)?releases-/;

export type Component = "containerd" | "runc" | "cni" | "crictl";
export type Arch = "amd64" | "arm64";

/** Versions (no leading "v") present in the tree, newest first. */
export interface Catalog {
  containerd: string[];
  /** containerd's static release (`containerd-static-*`). */
  containerdStatic: string[];
  runc: string[];
  cni: string[];
  crictl: string[];
}

/** A Debian package the tree was built from. */
export interface DebianPackage {
  name: string;
  /** The Debian version, e.g. "2.1.9+ds1-5". */
  debianVersion: string;
  /** The upstream version used in the release paths, e.g. "2.1.9". */
  version: string;
  suite: string;
  arch: Arch;
}

export interface Artifact {
  component: Component;
  version: string;
  arch: Arch;
  /** containerd's static release rather than its dynamic one. */
  staticBuild: boolean;
  /** URL path of the artifact (what follows https://github.com), starting with "/". */
  urlPath: string;
  /** URL path of its checksum file. */
  checksumUrlPath: string;
  /** The artifact and its checksum file on disk. */
  file: string;
  checksumFile: string;
  sha256: string;
  size: number;
  /** Where the bytes come from, e.g. "debian containerd 2.1.9+ds1-5 (sid, amd64)". */
  source: string;
}

export interface Releases {
  /** Root of the tree: serve it as a base URL that replaces https://github.com. */
  root: string;
  catalog: Catalog;
  artifacts: Artifact[];
  packages: DebianPackage[];
  /** ISO time of the build; the tree is reused until the cache is removed. */
  builtAt: string;
}

export interface EnsureReleasesOptions {
  /** Defaults to $E2E_CACHE_DIR or ~/.cache/containerd-worker-e2e. */
  cacheDir?: string;
  /** Progress messages (cold builds only). */
  log?: (message: string) => void;
  /**
   * Static builds from Debian's sources (a few minutes, once): also serve containerd's static release, and serve
   * a static runc and static CNI plugins for this machine's arch, as upstream releases them, instead of Debian's
   * dynamic builds.
   * Off by default: only the old-glibc tests need them, and the demo and the other tests should not wait.
   */
  withStaticBuilds?: boolean;
}

/**
 * The URL paths (after https://github.com) of an upstream release artifact and its checksum file;
 * `staticBuild` picks containerd's static release.
 */
export function releasePaths(
  component: Component,
  version: string,
  arch: Arch = "amd64",
  { staticBuild = false }: { staticBuild?: boolean } = {},
): { artifact: string; checksum: string } {
  switch (component) {
    case "containerd": {
      const name = `containerd-${staticBuild ? "static-" : ""}${version}-linux-${arch}.tar.gz`;
      const artifact = `/containerd/containerd/releases/download/v${version}/${name}`;
      return { artifact, checksum: `${artifact}.sha256sum` };
    }
    case "runc": {
      const dir = `/opencontainers/runc/releases/download/v${version}`;
      return { artifact: `${dir}/runc.${arch}`, checksum: `${dir}/runc.sha256sum` };
    }
    case "cni": {
      const artifact = `/containernetworking/plugins/releases/download/v${version}/cni-plugins-linux-${arch}-v${version}.tgz`;
      return { artifact, checksum: `${artifact}.sha256` };
    }
    case "crictl": {
      const artifact = `/kubernetes-sigs/cri-tools/releases/download/v${version}/crictl-v${version}-linux-${arch}.tar.gz`;
      return { artifact, checksum: `${artifact}.sha256` };
    }
  }
}

export function defaultCacheDir(): string {
  return process.env.E2E_CACHE_DIR ?? path.join(os.homedir(), ".cache", "containerd-worker-e2e");
}

/** The artifact of a component at a version and arch; throws when the tree lacks it. */
export function findArtifact(
  releases: Releases,
  component: Component,
  version: string,
  arch: Arch = "amd64",
  { staticBuild = false }: { staticBuild?: boolean } = {},
): Artifact {
  const found = releases.artifacts.find(
    (a) => a.component === component && a.version === version && a.arch === arch && a.staticBuild === staticBuild,
  );
  if (!found) {
    const what = `${component}${staticBuild ? " (static)" : ""} ${version} (${arch})`;
    throw new Error(`no ${what} in the mirror; it has ${JSON.stringify(releases.catalog)}`);
  }
  return found;
}

/** Path of the e2e CRI client that stands in for crictl. */
export const CRICTL_SOURCE = path.join(__dirname, "crictl.py");

/**
 * Builds the release tree once (about half a minute, most of it gzip, plus the
 * static containerd build's own cached minutes when asked for) and returns it;
 * later calls read the cached manifest.
 */
export async function ensureReleases(options: EnsureReleasesOptions = {}): Promise<Releases> {
  const cache = options.cacheDir ?? defaultCacheDir();
  const log = options.log ?? (() => undefined);
  const staticBuilds = options.withStaticBuilds ? await ensureStaticBuilds({ cacheDir: cache, log }) : undefined;
  const scriptHash = sha256(fs.readFileSync(CRICTL_SOURCE)).slice(0, 12);
  const final = path.join(cache, `${RECIPE}-${scriptHash}${staticBuilds ? `-${staticBuilds.key}` : ""}`);
  const cached = readManifest(final);
  if (cached) {
    pruneStale(cache, RELEASE_TREES, [final]);
    return cached;
  }

  fs.mkdirSync(cache, { recursive: true });
  const work = fs.mkdtempSync(path.join(cache, `.tmp-${RECIPE}-`));
  try {
    await build(work, log, staticBuilds);
    fs.rmSync(path.join(work, "apt"), { recursive: true, force: true });
    fs.chmodSync(work, 0o755); // mkdtemp made it 0700
    try {
      fs.renameSync(work, final);
    } catch (err) {
      // Another process finished the same build first: keep its tree.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const built = readManifest(final);
  if (!built) throw new Error(`release tree at ${final} has no manifest`);
  pruneStale(cache, RELEASE_TREES, [final]);
  return built;
}

function readManifest(dir: string): Releases | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, "manifest.json"), "utf8");
  } catch {
    return undefined;
  }
  const stored = JSON.parse(text) as Releases;
  // Paths are stored relative to the build directory, which was renamed.
  const root = path.join(dir, "tree");
  return {
    ...stored,
    root,
    artifacts: stored.artifacts.map((a) => ({
      ...a,
      file: path.join(root, a.urlPath),
      checksumFile: path.join(root, a.checksumUrlPath),
    })),
  };
}

interface DebRequest {
  component: Exclude<Component, "crictl">;
  pkg: string;
  suite: string;
  arch: Arch;
}

// runc's arm64 build is fetched too, so that runc.sha256sum has more than one
// line, as upstream's does, and a reader must pick the line for its file.
const REQUESTS: DebRequest[] = [
  { component: "containerd", pkg: "containerd", suite: "sid", arch: "amd64" },
  { component: "containerd", pkg: "containerd", suite: "trixie", arch: "amd64" },
  { component: "runc", pkg: "runc", suite: "sid", arch: "amd64" },
  { component: "runc", pkg: "runc", suite: "sid", arch: "arm64" },
  { component: "cni", pkg: "containernetworking-plugins", suite: "sid", arch: "amd64" },
];

async function build(
  work: string,
  log: (message: string) => void,
  staticBuilds: StaticBuilds | undefined,
): Promise<void> {
  const started = Date.now();
  const tree = path.join(work, "tree");
  const apt = path.join(work, "apt");
  const archive = debianArchive();
  log(`debian archive from apt sources: ${archive.uri}`);
  const staticArch: Arch = process.arch === "arm64" ? "arm64" : "amd64";
  // Upstream releases runc and the CNI plugins only static: with the static builds, those stand in for Debian's
  // dynamic ones on this machine's arch, which are then not fetched at all.
  const requests =
    staticBuilds === undefined
      ? REQUESTS
      : REQUESTS.filter((r) => r.arch !== staticArch || (r.component !== "runc" && r.component !== "cni"));
  const debs = await downloadDebs(apt, archive, requests, log);

  // Unpack and pack each package concurrently: gzip is most of the time.
  const packed = await Promise.all(
    debs.map(async ({ request, file }) => {
      const pkg = await debianPackage(file, request);
      const unpacked = path.join(apt, `x-${pkg.name}-${pkg.debianVersion}-${pkg.arch}`);
      await run("dpkg-deb", ["-x", file, unpacked]);
      const source = `debian ${pkg.name} ${pkg.debianVersion} (${request.suite}, ${pkg.arch})`;
      const paths = releasePaths(request.component, pkg.version, pkg.arch);
      const out = path.join(tree, paths.artifact);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      log(`packing ${paths.artifact}`);

      if (request.component === "containerd") {
        const bin = path.join(unpacked, "usr", "bin");
        const names = fs.readdirSync(bin).filter((n) => /^(containerd(-shim.*|-stress)?|ctr)$/.test(n));
        const stage = path.join(apt, `stage-containerd-${pkg.version}`, "bin");
        fs.mkdirSync(stage, { recursive: true });
        for (const n of names) fs.copyFileSync(path.join(bin, n), path.join(stage, n));
        await tarGz(path.dirname(stage), ["bin"], out, path.join(bin, "containerd"));
      } else if (request.component === "cni") {
        const dir = path.join(unpacked, "usr", "lib", "cni");
        await tarGz(dir, ["."], out, path.join(dir, "bridge"));
      } else {
        fs.copyFileSync(path.join(unpacked, "usr", "sbin", "runc"), out);
        fs.chmodSync(out, 0o755);
      }
      const digest = sha256(fs.readFileSync(out));
      if (request.component !== "runc") {
        // containerd: "<hex>  <file>" in .sha256sum; CNI plugins: the same in .sha256.
        fs.writeFileSync(path.join(tree, paths.checksum), `${digest}  ${path.basename(out)}\n`);
      }
      return { pkg, artifact: describe(request.component, pkg.version, pkg.arch, false, out, digest, source) };
    }),
  );
  const packages = packed.map((p) => p.pkg);
  const artifacts = packed.map((p) => p.artifact);

  if (staticBuilds !== undefined) {
    const { suite, goVersion } = staticBuilds;
    /** Packs one static build at its release path, with its checksum file, as upstream lays it out. */
    const serve = async (
      component: Exclude<Component, "crictl">,
      build: StaticSource,
      pack: (out: string) => Promise<void> | void,
      { staticBuild = false } = {},
    ): Promise<void> => {
      const paths = releasePaths(component, build.version, staticArch, { staticBuild });
      const out = path.join(tree, paths.artifact);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      log(`packing ${paths.artifact}`);
      await pack(out);
      const digest = sha256(fs.readFileSync(out));
      // runc's checksum file lists every arch: it is written below, from all runc artifacts.
      if (component !== "runc") fs.writeFileSync(path.join(tree, paths.checksum), `${digest}  ${path.basename(out)}\n`);
      const source = `static build of debian ${build.sourcePackage} ${build.debianVersion} (${suite}) with ${goVersion}`;
      artifacts.push(describe(component, build.version, staticArch, staticBuild, out, digest, source));
      packages.push({ name: build.sourcePackage, ...build, suite, arch: staticArch });
    };
    const { dir } = staticBuilds;
    const containerdBinaries = STATIC_BINARIES.map((b) => `bin/${b}`);
    await serve(
      "containerd",
      staticBuilds.containerd,
      (out) => tarGz(dir, containerdBinaries, out, path.join(dir, "bin", "containerd")),
      { staticBuild: true },
    );
    await serve("runc", staticBuilds.runc, (out) => {
      fs.copyFileSync(path.join(dir, "sbin", "runc"), out);
      fs.chmodSync(out, 0o755);
    });
    const cniDir = path.join(dir, "cni");
    await serve("cni", staticBuilds.cni, (out) => tarGz(cniDir, ["."], out, path.join(cniDir, "bridge")));
  }

  // runc: one runc.sha256sum per release, a "<hex>  runc.<arch>" line per file, sorted.
  const runcFiles = artifacts.filter((a) => a.component === "runc").sort((a, b) => a.urlPath.localeCompare(b.urlPath));
  for (const version of new Set(runcFiles.map((a) => a.version))) {
    const lines = runcFiles
      .filter((a) => a.version === version)
      .map((a) => `${a.sha256}  ${path.basename(a.urlPath)}\n`);
    fs.writeFileSync(path.join(tree, releasePaths("runc", version).checksum), lines.join(""));
  }

  // crictl: the e2e CRI client, alone in the tarball as "crictl"; .sha256 holds the bare hex.
  const crictl = releasePaths("crictl", CRICTL_VERSION, "amd64");
  const stage = path.join(apt, "stage-crictl");
  fs.mkdirSync(stage, { recursive: true });
  const script = fs
    .readFileSync(CRICTL_SOURCE, "utf8")
    .replace(/^VERSION = ".*"(.*)$/m, `VERSION = "v${CRICTL_VERSION}"$1`);
  fs.writeFileSync(path.join(stage, "crictl"), script, { mode: 0o755 });
  const crictlOut = path.join(tree, crictl.artifact);
  fs.mkdirSync(path.dirname(crictlOut), { recursive: true });
  await tarGz(stage, ["crictl"], crictlOut, CRICTL_SOURCE);
  const crictlDigest = sha256(fs.readFileSync(crictlOut));
  fs.writeFileSync(path.join(tree, crictl.checksum), `${crictlDigest}\n`);
  artifacts.push(
    describe("crictl", CRICTL_VERSION, "amd64", false, crictlOut, crictlDigest, "e2e CRI client (crictl.py)"),
  );

  const versions = (c: Component, staticBuild = false): string[] =>
    [
      ...new Set(artifacts.filter((a) => a.component === c && a.staticBuild === staticBuild).map((a) => a.version)),
    ].sort(compareVersionsDesc);
  const manifest = {
    root: "tree",
    catalog: {
      containerd: versions("containerd"),
      containerdStatic: versions("containerd", true),
      runc: versions("runc"),
      cni: versions("cni"),
      crictl: versions("crictl"),
    },
    artifacts,
    packages,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(work, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  log(`release tree built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  function describe(
    component: Component,
    version: string,
    arch: Arch,
    staticBuild: boolean,
    file: string,
    digest: string,
    source: string,
  ): Omit<Artifact, "file" | "checksumFile"> {
    const p = releasePaths(component, version, arch, { staticBuild });
    return {
      component,
      version,
      arch,
      staticBuild,
      urlPath: p.artifact,
      checksumUrlPath: p.checksum,
      sha256: digest,
      size: fs.statSync(file).size,
      source,
    };
  }
}

async function downloadDebs(
  apt: string,
  archive: AptSource,
  requests: DebRequest[],
  log: (message: string) => void,
): Promise<{ request: DebRequest; file: string }[]> {
  for (const d of ["lists/partial", "cache/archives/partial", "etc"]) {
    fs.mkdirSync(path.join(apt, d), { recursive: true });
  }
  const keyring =
    archive.signedBy ??
    (fs.existsSync("/usr/share/keyrings/debian-archive-keyring.gpg")
      ? "/usr/share/keyrings/debian-archive-keyring.gpg"
      : undefined);
  const signed = keyring ? ` signed-by=${keyring}` : "";
  const suites = [...new Set(requests.map((r) => r.suite))];
  const sourcesList = suites
    .map((suite) => {
      const arches = [...new Set(requests.filter((r) => r.suite === suite).map((r) => r.arch))];
      return `deb [arch=${arches.join(",")}${signed}] ${archive.uri} ${suite} main\n`;
    })
    .join("");
  const sourcelist = path.join(apt, "etc", "sources.list");
  fs.writeFileSync(sourcelist, sourcesList);
  const aptOptions = [
    "-o",
    `Dir::Etc::sourcelist=${sourcelist}`,
    "-o",
    "Dir::Etc::sourceparts=-",
    "-o",
    `Dir::State::Lists=${path.join(apt, "lists")}`,
    "-o",
    `Dir::Cache=${path.join(apt, "cache")}`,
    "-o",
    "Dir::Etc::preferences=/dev/null",
    "-o",
    "Dir::Etc::preferencesparts=-",
    "-o",
    "APT::Sandbox::User=root",
    ...[...new Set(requests.map((r) => r.arch))].flatMap((a) => ["-o", `APT::Architectures::=${a}`]),
  ];
  log(`apt-get update (${suites.join(", ")}) with a private sources list`);
  await run("apt-get", [...aptOptions, "-q", "update"], { maxBuffer: 16 << 20 });

  log(`apt-get download: ${requests.map((r) => `${r.pkg}:${r.arch}/${r.suite}`).join(" ")}`);
  return Promise.all(
    requests.map(async (request) => {
      const dir = path.join(apt, "debs", `${request.component}-${request.suite}-${request.arch}`);
      fs.mkdirSync(dir, { recursive: true });
      await run("apt-get", [...aptOptions, "-q", "download", `${request.pkg}:${request.arch}/${request.suite}`], {
        cwd: dir,
        maxBuffer: 16 << 20,
      });
      const files = fs.readdirSync(dir).filter((n) => n.endsWith(".deb"));
      const first = files[0];
      if (files.length !== 1 || !first) throw new Error(`expected one .deb in ${dir}, found ${files.join(", ")}`);
      return { request, file: path.join(dir, first) };
    }),
  );
}

async function debianPackage(file: string, request: DebRequest): Promise<DebianPackage> {
  const { stdout } = await run("dpkg-deb", ["-f", file, "Package", "Version", "Architecture"]);
  const field = (k: string): string => {
    const v = new RegExp(`^${k}: (.*)$`, "m").exec(stdout)?.[1];
    if (!v) throw new Error(`${file}: no ${k} field`);
    return v.trim();
  };
  const debianVersion = field("Version");
  const arch = field("Architecture");
  if (arch !== request.arch) throw new Error(`${file}: architecture ${arch}, wanted ${request.arch}`);
  return { name: field("Package"), debianVersion, version: upstreamVersion(debianVersion), suite: request.suite, arch };
}

/** "2.1.9+ds1-5" -> "2.1.9", "1.7.24~ds1-6+deb13u1" -> "1.7.24", "1:2.2.0~rc1+ds1-1" -> "2.2.0-rc.1". */
export function upstreamVersion(debianVersion: string): string {
  const m = /^(?:\d+:)?(\d+\.\d+\.\d+)(?:~(alpha|beta|rc)\.?(\d+))?/.exec(debianVersion);
  if (!m?.[1]) throw new Error(`cannot read an upstream version in ${debianVersion}`);
  return m[2] ? `${m[1]}-${m[2]}.${m[3]}` : m[1];
}

function compareVersionsDesc(a: string, b: string): number {
  const parse = (v: string): number[] => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** A gzipped tar of `entries` under `dir`, owned by root, sorted, dated like `reference`. */
async function tarGz(dir: string, entries: string[], out: string, reference: string): Promise<void> {
  const mtime = Math.floor(fs.statSync(reference).mtimeMs / 1000);
  const tarFile = out.replace(/\.(tar\.gz|tgz)$/, "") + ".tar";
  await run("tar", [
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    `--mtime=@${mtime}`,
    "--clamp-mtime",
    "-C",
    dir,
    "-cf",
    tarFile,
    ...entries,
  ]);
  await run("gzip", ["-n", "-f", tarFile]);
  fs.renameSync(`${tarFile}.gz`, out);
}

function sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}
