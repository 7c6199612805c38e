/**
 * The one place that knows release versions, artifact URLs and checksum rules.
 *
 * Everything here is data plus pure functions over it; scripts and the
 * component only ask this module where an artifact lives and how to check it.
 */

/** CPU architectures the upstream projects publish Linux binaries for. */
export const ARCHES = ["amd64", "arm64"] as const;
export type Arch = (typeof ARCHES)[number];

/** What `arch` accepts: an architecture, or `auto` to ask the worker (`uname -m`) once, in its ready step. */
export type ArchChoice = Arch | "auto";
export const ARCH_CHOICES: readonly ArchChoice[] = [...ARCHES, "auto"];

/** The architecture `uname -m` names, as release artifacts name it. */
export const MACHINE_ARCH: Readonly<Record<string, Arch>> = { x86_64: "amd64", aarch64: "arm64" };

/** The parts of the runtime the component downloads. */
export const PARTS = ["runc", "containerd", "cni", "crictl"] as const;
export type Part = (typeof PARTS)[number];

/** Versions of every downloaded part, without a leading `v`. */
export type Versions = Record<Part, string>;

/**
 * The article's pins (a mid-2026 baseline for Kubernetes 1.36):
 * containerd `2.3.1`, runc `1.4.2`, CNI plugins `1.9.1`, crictl `1.36.0`.
 */
export const DEFAULT_VERSIONS: Readonly<Versions> = {
  containerd: "2.3.1",
  runc: "1.4.2",
  cni: "1.9.1",
  crictl: "1.36.0",
};

/** Default `arch`: `amd64` (x86_64 EC2 instances). */
export const DEFAULT_ARCH: Arch = "amd64";

/** Default pinned sandbox (pause) image: `registry.k8s.io/pause:3.10.2`, the one Kubernetes 1.36 expects. */
export const DEFAULT_SANDBOX_IMAGE = "registry.k8s.io/pause:3.10.2";

/** Default download base: `https://github.com`. A mirror replaces exactly this prefix and keeps the rest of the path. */
export const DEFAULT_DOWNLOAD_BASE_URL = "https://github.com";

/** Where things live on the worker, as in the article. */
export const PATHS = {
  containerdBinDir: "/usr/local/bin",
  runcBinary: "/usr/local/sbin/runc",
  cniBinDir: "/opt/cni/bin",
  cniConfDir: "/etc/cni/net.d",
  crictlBinDir: "/usr/local/bin",
  containerdConfig: "/etc/containerd/config.toml",
  containerdUnit: "/etc/systemd/system/containerd.service",
  /** systemd drop-in that gives containerd its HTTP(S) proxy environment: it names `containerdProxyEnv`. */
  containerdProxyDropIn: "/etc/systemd/system/containerd.service.d/http-proxy.conf",
  /** The proxy environment itself, root-only (0600): proxy URLs may carry credentials. */
  containerdProxyEnv: "/etc/containerd/http-proxy.env",
  crictlConfig: "/etc/crictl.yaml",
  /** containerd's `config_path`: one directory per registry, each with a hosts.toml, read on every pull. */
  registryConfigDir: "/etc/containerd/certs.d",
  /** Lists of the files each install step put in place, so an upgrade or a destroy removes exactly those. */
  manifestDir: "/var/lib/containerd-worker",
  /** containerd's persistent state: images, snapshots, container metadata. */
  containerdRoot: "/var/lib/containerd",
  /** containerd's runtime state on tmpfs: its sockets, the shims' and runc's state, container mounts. */
  containerdState: "/run/containerd",
  /** The CNI plugins' state: host-local IP allocations and cached results. */
  cniState: "/var/lib/cni",
} as const;

/** Holds the digest of the last plan the verify step proved on this worker. */
export const VERIFIED_PLAN_FILE = `${PATHS.manifestDir}/verified-plan`;

/**
 * A copy of the config.toml containerd last ran with and answered CRI, kept by the verify step: what the
 * restart step puts back when containerd will not start with a new one.
 */
export const VERIFIED_CONFIG_FILE = `${PATHS.manifestDir}/config.toml.verified`;

/**
 * Where the steps keep the files they adopted: a file of the operator's (a worker set up by hand) that a step
 * was about to overwrite, copied aside first with its mode, owner and timestamps, one directory per step
 * (`adopted/<step>/<the file's own path>`), root-only. Destroy puts each back.
 */
export const ADOPTED_DIR = `${PATHS.manifestDir}/adopted`;

/** The socket containerd serves (CRI and its own API). */
export const RUNTIME_SOCKET = `${PATHS.containerdState}/containerd.sock`;

/** The CRI socket containerd serves and the kubelet is pointed at. */
export const RUNTIME_ENDPOINT = `unix://${RUNTIME_SOCKET}`;

/**
 * How a release publishes its checksum:
 * - `named-line`: lines `<hex>  <file>` (sha256sum's format); pick the line naming our file.
 *   containerd (`.sha256sum`), CNI plugins (`.sha256`) and runc (one `runc.sha256sum` for all arches).
 * - `bare-hex`: the file holds only the hex digest (crictl's `.sha256`), so `sha256sum -c` cannot read it.
 */
export type ChecksumFormat = "named-line" | "bare-hex";

/** How a downloaded file becomes installed files. */
export type Packaging =
  /** A single executable installed under a fixed path. */
  | { kind: "binary"; installAs: string }
  /** A gzipped tarball; every regular file under `member` is installed into `intoDir`. */
  | { kind: "tarball"; member: string; intoDir: string };

export interface Artifact {
  part: Part;
  version: string;
  arch: Arch;
  /** File name as published, e.g. `runc.amd64`. */
  fileName: string;
  url: string;
  checksumUrl: string;
  checksumFormat: ChecksumFormat;
  packaging: Packaging;
  /**
   * How the install step runs one new binary before installing it: proof that it is whole and runs on this
   * worker (a too-old glibc or another arch fails here, not after install).
   */
  selfCheck: SelfCheck;
  /**
   * A build linked against the worker's glibc (containerd's dynamic build, which needs glibc >= 2.35 from
   * 2.1.0 on): when the self-check fails with the dynamic loader's glibc message, it names staticBuild as the fix.
   */
  needsGlibc?: true;
}

/** A run of one binary of a release, in the directory it was unpacked to. */
export interface SelfCheck {
  /** The binary's file name. */
  binary: string;
  /** How it is run: `binary --version`, or asked for its VERSION as a runtime asks a CNI plugin. */
  run: "version-flag" | "cni-version";
  /** Text its output must contain, and how an error names it: the release's version, or (CNI) the answer's key. */
  expect: { text: string; what: string };
}

/** `binary --version`, whose output must name the release's version. */
function versionCheck(binary: string, version: string): SelfCheck {
  return { binary, run: "version-flag", expect: { text: version, what: `version ${version}` } };
}

/** Which config.toml schema a containerd version reads (see `configSchemaFor`). */
export type ConfigSchema = 2 | 3 | 4;

/** Splits a validated `X.Y.Z[-pre]` version into numbers. */
export function versionNumbers(version: string): [number, number, number] {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!match) {
    throw new Error(`not a version: ${version}`);
  }
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * The config.toml `version` a containerd release reads: 2 for 1.x, 3 for 2.0 to 2.2, 4 from 2.3 on.
 * Throws for a containerd this library has no schema for (before 1.7, or 3.x and later).
 */
export function configSchemaFor(containerdVersion: string): ConfigSchema {
  const [major, minor] = versionNumbers(containerdVersion);
  if (major === 1 && minor >= 7) return 2;
  if (major === 2) return minor <= 2 ? 3 : 4;
  throw new Error(`containerd ${containerdVersion} is not supported: use 1.7.x or 2.x (config schemas 2, 3 and 4)`);
}

function releaseBase(baseUrl: string, repo: string, version: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${repo}/releases/download/v${version}`;
}

/**
 * Where a part of the given version and arch is published, and how to check and install it.
 * `staticBuild` picks containerd's static release (`containerd-static-*`), which needs no glibc.
 */
export function artifactFor(
  part: Part,
  version: string,
  arch: Arch,
  baseUrl: string,
  { staticBuild = false }: { staticBuild?: boolean } = {},
): Artifact {
  /** Where a release file and its checksum file are, below the repository's release of `version`. */
  const release = (repo: string, fileName: string, checksumFile: string) => {
    const base = releaseBase(baseUrl, repo, version);
    return { part, version, arch, fileName, url: `${base}/${fileName}`, checksumUrl: `${base}/${checksumFile}` };
  };
  switch (part) {
    case "containerd": {
      const fileName = `containerd-${staticBuild ? "static-" : ""}${version}-linux-${arch}.tar.gz`;
      return {
        ...release("containerd/containerd", fileName, `${fileName}.sha256sum`),
        checksumFormat: "named-line",
        packaging: { kind: "tarball", member: "bin", intoDir: PATHS.containerdBinDir },
        selfCheck: versionCheck("containerd", version),
        // containerd's dynamic build needs glibc >= 2.35 from 2.1.0 on; the static one runs anywhere.
        ...(staticBuild ? {} : { needsGlibc: true }),
      };
    }
    case "runc":
      return {
        ...release("opencontainers/runc", `runc.${arch}`, "runc.sha256sum"),
        checksumFormat: "named-line",
        packaging: { kind: "binary", installAs: PATHS.runcBinary },
        selfCheck: versionCheck("runc", version),
      };
    case "cni": {
      const fileName = `cni-plugins-linux-${arch}-v${version}.tgz`;
      return {
        ...release("containernetworking/plugins", fileName, `${fileName}.sha256`),
        checksumFormat: "named-line",
        packaging: { kind: "tarball", member: ".", intoDir: PATHS.cniBinDir },
        // A plugin asked for its VERSION answers with the CNI spec versions it speaks, not its own release
        // (builds other than upstream's may not know theirs): proof enough that the plugins run here.
        selfCheck: {
          binary: "loopback",
          run: "cni-version",
          expect: { text: '"supportedVersions"', what: "a CNI VERSION answer" },
        },
      };
    }
    case "crictl": {
      const fileName = `crictl-v${version}-linux-${arch}.tar.gz`;
      return {
        ...release("kubernetes-sigs/cri-tools", fileName, `${fileName}.sha256`),
        checksumFormat: "bare-hex",
        packaging: { kind: "tarball", member: ".", intoDir: PATHS.crictlBinDir },
        selfCheck: versionCheck("crictl", version),
      };
    }
  }
}
