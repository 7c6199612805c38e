/** The arguments of ContainerdWorker, as users write them: the public types, with their defaults. */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { RegistryHostsInput } from "./registryArgs";
import { ContainerdSettings } from "./containerdSettingsArgs";
import { Arch } from "./enums";

/**
 * The arguments of a ContainerdWorker. Every one may be an Output, checked once it is known. The members stand
 * here, not in a base interface: the component provider's schema analyzer of the lowest SDK this package accepts
 * (3.221) does not follow `extends`. Each `@default` is the one inputs/declarations.ts applies (a unit test holds
 * them together).
 */
export interface ContainerdWorkerArgs {
  /**
   * How to reach the worker over SSH: `@pulumi/command`'s connection (host,
   * port, user, privateKey, proxy for a bastion, dial limits). Pass the key
   * as a secret. A non-root user needs passwordless sudo. The `ready` step
   * dials with limits worked out from `readyTimeoutSeconds` instead of
   * `dialErrorLimit` and `perDialTimeout` (for the bastion too); the other
   * steps run after it and use them as given, except that a `proxy` without
   * a `dialErrorLimit` gets `BASTION_DIAL_ERROR_LIMIT` (about a minute of
   * redialing), so that a fleet's commands, one connection each, get
   * through a bastion that drops connections past its `MaxStartups`. Required.
   */
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  /**
   * Read the worker (one read-only SSH round trip) on every preview and up, so
   * that what changed on it by hand shows as a change of the step that owns it
   * and the next up restores it; `false` where the machine running Pulumi
   * cannot reach the worker.
   * Default: `true`.
   * @default true
   */
  detectHostDrift?: pulumi.Input<boolean>;
  /**
   * What this worker waits for before any of its steps runs, on every up and destroy alike: give it
   * the worker before it to roll a change out one worker at a time. A worker is then touched only once
   * the one before it has run the change and answered CRI with it, and a change that breaks containerd
   * stops at the first worker it breaks (Pulumi starts no step after a failed one). A component counts
   * with all its children. Any resource will do; from another language, give the worker's `urn`. None:
   * every worker at once.
   * Default: none.
   * @default none
   */
  after?: pulumi.Input<pulumi.Input<AfterResource>[]>;
  /**
   * Release versions (`X.Y.Z`, a leading `v` allowed) of containerd (1.7.x or 2.x), runc, the CNI
   * plugins and crictl; a part not given keeps its default.
   * Default: `{"containerd":"2.3.1","runc":"1.4.2","cni":"1.9.1","crictl":"1.36.0"}`.
   * @default {"containerd":"2.3.1","runc":"1.4.2","cni":"1.9.1","crictl":"1.36.0"}
   */
  versions?: pulumi.Input<Versions>;
  /**
   * `amd64`, `arm64`, or `auto`: the ready step asks the worker (`uname -m`) and the installs follow.
   * Default: `"amd64"`.
   * @default "amd64"
   */
  arch?: pulumi.Input<Arch>;
  /**
   * The pinned pause image for pod sandboxes: `[registry/]name:tag` or `name@sha256:digest`.
   * Default: `"registry.k8s.io/pause:3.10.2"`.
   * @default "registry.k8s.io/pause:3.10.2"
   */
  sandboxImage?: pulumi.Input<string>;
  /**
   * Use the systemd cgroup driver, else cgroupfs; the kubelet must use the same driver.
   * Default: `true`.
   * @default true
   */
  systemdCgroup?: pulumi.Input<boolean>;
  /**
   * Where release artifacts are downloaded from: replaces `https://github.com` and keeps the rest of
   * each release path (kubespray's `github_url`), for a mirror or an air-gapped worker. It may carry
   * credentials or a token: give it as a secret, and it reaches the worker only on standard input.
   * Default: `"https://github.com"`.
   * @default "https://github.com"
   */
  downloadBaseUrl?: pulumi.Input<string>;
  /**
   * Pinned sha256 (64 hex characters) per part; a part without one is checked against its release's
   * own checksum file.
   * Default: `{}`.
   * @default {}
   */
  checksums?: pulumi.Input<Checksums>;
  /**
   * The proxy containerd uses to pull images (not the downloads, which run on the worker as root's
   * curl). Its URLs may carry credentials when given as a secret; on the worker they live in a
   * root-only environment file. None: no proxy.
   * Default: none.
   * @default none
   */
  httpProxy?: pulumi.Input<HttpProxyArgs>;
  /**
   * On destroy, also remove containerd's and the CNI plugins' state: `/var/lib/containerd` (images,
   * snapshots), `/run/containerd` and `/var/lib/cni`. Unset, destroy stops every container
   * and removes what the component installed, and keeps the state, so a reinstall finds its images.
   * Destroy runs the setting saved by the last up: set it, run `pulumi up` (nothing runs on the
   * workers), then `pulumi destroy`.
   * Default: `false`.
   * @default false
   */
  purgeStateOnDestroy?: pulumi.Input<boolean>;
  /**
   * Install containerd's static release (`containerd-static-<version>-linux-<arch>.tar.gz`), for
   * workers whose glibc is older than the dynamic build needs (2.35 from containerd 2.1 on).
   * Unset: the dynamic build, as the article installs.
   * Default: `false`.
   * @default false
   */
  staticBuild?: pulumi.Input<boolean>;
  /**
   * How long a just-booted worker has to accept SSH and finish cloud-init,
   * in seconds: the `ready` step keeps dialing at least this long, then waits
   * for cloud-init until this long after the worker's boot. Whole seconds, 1 to 3600.
   * Default: `300`.
   * @default 300
   */
  readyTimeoutSeconds?: pulumi.Input<number>;
  /**
   * Per-registry hosts.toml (mirrors, CA, headers) under /etc/containerd/certs.d, keyed by
   * registry host (`docker.io`, `my.registry:5000`, or `_default` for every other). Unset: no files,
   * and containerd pulls from each registry itself.
   * Default: `{}`.
   * @default {}
   */
  registries?: pulumi.Input<Record<string, pulumi.Input<RegistryHostsInput>>>;
  /**
   * Extra config.toml settings, checked against the chosen containerd version's keys.
   * Default: `{}`.
   * @default {}
   */
  containerdSettings?: pulumi.Input<ContainerdSettings>;
}

/**
 * A resource `after` waits for: a Pulumi resource, or anything with its URN (how other languages give it,
 * e.g. `{ urn: ${worker-0.urn} }` in YAML).
 */
export interface AfterResource {
  urn: pulumi.Input<string>;
}

/** The versions to install, by part; each defaults to the catalog's. */
export interface Versions {
  runc?: string;
  containerd?: string;
  cni?: string;
  crictl?: string;
}

/** sha256 checksums of the downloads, by part, for versions the catalog does not know. */
export interface Checksums {
  runc?: string;
  containerd?: string;
  cni?: string;
  crictl?: string;
}

/**
 * The options of a ContainerdWorker: its arguments but the connection and what orders or reads it.
 */
export type WorkerOptionsInput = Omit<ContainerdWorkerArgs, "connection" | "detectHostDrift" | "after">;

/** `httpProxy` as given: any field may be an Output (a secret, say). */
export interface HttpProxyArgs {
  http?: pulumi.Input<string>;
  https?: pulumi.Input<string>;
  /** Hosts, domains or CIDRs to reach directly. */
  noProxy?: pulumi.Input<pulumi.Input<string>[]>;
}
