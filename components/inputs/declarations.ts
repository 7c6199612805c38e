/**
 * Each argument of ContainerdWorker declared once: its one-line summary, its default, its check, and the
 * program's stack config keys that set it. `resolveOptions` runs these checks, the args' doc comments state
 * these defaults (tests/inputs/declarations.test.ts holds them to it), and `npm run docs:config`
 * (tools/configReference.ts) writes Pulumi.yaml's keys and the docs' argument reference from this table.
 *
 * Adding an argument: its type and doc comment in args/containerdWorkerArgs.ts, its entry here, and the
 * files the generator writes (`npm run docs:config`).
 */
import {
  ARCH_CHOICES,
  ArchChoice,
  configSchemaFor,
  DEFAULT_ARCH,
  DEFAULT_DOWNLOAD_BASE_URL,
  DEFAULT_SANDBOX_IMAGE,
  DEFAULT_VERSIONS,
  Part,
  PARTS,
  Versions,
} from "../catalog/catalog";
import { ContainerdSettings } from "../args/containerdSettingsArgs";
import { ContainerdWorkerArgs } from "../args/containerdWorkerArgs";
import { resolveContainerdSettings } from "./containerdSettings";
import { InvalidInputError } from "./errors";
import { DEFAULT_READY_TIMEOUT_SECONDS, READY_TIMEOUT_RANGE } from "./readiness";
import { RegistryHosts, resolveRegistries } from "./registries";
import { resolveBoolean } from "./shape";
import { DOMAIN, resolveUrl } from "./urls";

/** `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` for containerd. */
export interface HttpProxyInput {
  http?: string;
  https?: string;
  /** Hosts, domains or CIDRs to reach directly. */
  noProxy?: string[];
}

/** Options after validation, with every default filled in. */
export interface WorkerOptions {
  versions: Versions;
  arch: ArchChoice;
  sandboxImage: string;
  systemdCgroup: boolean;
  downloadBaseUrl: string;
  checksums: Partial<Record<Part, string>>;
  /** Absent when containerd needs no proxy. */
  httpProxy?: HttpProxyInput;
  purgeStateOnDestroy: boolean;
  staticBuild: boolean;
  readyTimeoutSeconds: number;
  registries: Record<string, RegistryHosts>;
  /** `{}` when none are set. */
  containerdSettings: ContainerdSettings;
}

export type OptionName = keyof WorkerOptions;
export type ArgumentName = keyof ContainerdWorkerArgs;

const VERSION = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const PINNED_IMAGE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG}(?:@${DIGEST})?|@${DIGEST})$`,
);

const PART_INPUTS = PARTS.join(", ");

function checkKnownKeys(input: string, value: object): void {
  for (const key of Object.keys(value)) {
    if (!(PARTS as readonly string[]).includes(key)) {
      throw new InvalidInputError(`${input}.${key}`, `unknown part; the parts are ${PART_INPUTS}`);
    }
  }
}

function resolveVersions(given: Partial<Record<Part, string>> | undefined): Versions {
  checkKnownKeys("versions", given ?? {});
  const versions = { ...DEFAULT_VERSIONS };
  for (const part of PARTS) {
    const value: unknown = given?.[part] ?? DEFAULT_VERSIONS[part];
    const match = typeof value === "string" ? VERSION.exec(value.trim()) : null;
    if (!match || match[1] === undefined) {
      throw new InvalidInputError(
        `versions.${part}`,
        `${JSON.stringify(value)} is not a release version; expected X.Y.Z (e.g. "${DEFAULT_VERSIONS[part]}")`,
      );
    }
    versions[part] = match[1];
  }
  try {
    configSchemaFor(versions.containerd);
  } catch (error) {
    throw new InvalidInputError("versions.containerd", (error as Error).message);
  }
  return versions;
}

function resolveBaseUrl(value: unknown, secret: boolean): string {
  const example = DEFAULT_DOWNLOAD_BASE_URL;
  return resolveUrl("downloadBaseUrl", value, { secret, example, credentials: true }).replace(/\/+$/, "");
}

function resolveChecksums(given: Partial<Record<Part, string>> | undefined): Partial<Record<Part, string>> {
  checkKnownKeys("checksums", given ?? {});
  const checksums: Partial<Record<Part, string>> = {};
  for (const part of PARTS) {
    const value: unknown = given?.[part];
    if (value === undefined) continue;
    if (typeof value !== "string" || !SHA256.test(value)) {
      throw new InvalidInputError(
        `checksums.${part}`,
        `${JSON.stringify(value)} is not a sha256: expected 64 hex characters`,
      );
    }
    checksums[part] = value.toLowerCase();
  }
  return checksums;
}

const NO_PROXY_ENTRY = /^[A-Za-z0-9.*:/_[\]-]+$/;

function resolveProxyUrl(input: string, value: unknown, secret: boolean): string | undefined {
  if (value === undefined) return undefined;
  const url = resolveUrl(input, value, { secret, example: "http://proxy.internal:3128", credentials: true });
  // systemd reads the environment file with shell-like quoting and expansion.
  if (/['$]/.test(url)) {
    throw new InvalidInputError(
      input,
      "holds ' or $, which systemd's environment file would not keep; percent-encode them",
    );
  }
  return url;
}

/** Checks the proxy settings; none at all means no drop-in. */
function resolveHttpProxy(value: unknown, secret: boolean): HttpProxyInput | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidInputError("httpProxy", "is not an object like { http, https, noProxy }");
  }
  const given = value as HttpProxyInput;
  const http = resolveProxyUrl("httpProxy.http", given.http, secret);
  const https = resolveProxyUrl("httpProxy.https", given.https, secret);
  const noProxy: unknown = given.noProxy ?? [];
  if (!Array.isArray(noProxy) || noProxy.some((entry) => typeof entry !== "string" || !NO_PROXY_ENTRY.test(entry))) {
    throw new InvalidInputError(
      "httpProxy.noProxy",
      `${JSON.stringify(noProxy)} is not a list of hosts, domains or CIDRs (e.g. ["localhost", "10.0.0.0/8", ".svc"])`,
    );
  }
  if (http === undefined && https === undefined) {
    if ((noProxy as string[]).length > 0) throw new InvalidInputError("httpProxy", "noProxy needs http or https");
    return undefined;
  }
  return { http, https, noProxy: noProxy as string[] };
}

function resolveArch(value: unknown): ArchChoice {
  if (typeof value !== "string" || !(ARCH_CHOICES as readonly string[]).includes(value)) {
    throw new InvalidInputError(
      "arch",
      `${JSON.stringify(value)} is not supported; use one of ${ARCH_CHOICES.join(", ")}`,
    );
  }
  return value as ArchChoice;
}

function resolveSandboxImage(value: unknown): string {
  if (typeof value !== "string" || !PINNED_IMAGE.test(value)) {
    throw new InvalidInputError(
      "sandboxImage",
      `${JSON.stringify(value)} is not a pinned image reference; expected [registry/]name:tag or name@sha256:digest (e.g. "${DEFAULT_SANDBOX_IMAGE}")`,
    );
  }
  return value;
}

function resolveReadyTimeout(value: unknown): number {
  const { min, max } = READY_TIMEOUT_RANGE;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(
      "readyTimeoutSeconds",
      `${JSON.stringify(value)}: expected whole seconds from ${min} to ${max} (default ${DEFAULT_READY_TIMEOUT_SECONDS})`,
    );
  }
  return value;
}

/** A boolean argument's check: a boolean, or the default when not given. */
const booleanCheck = (name: string) => (value: unknown) => resolveBoolean(name, value) as boolean;

/** A program's stack config key (Pulumi.yaml) that sets an argument, or one field of it. */
export interface ConfigKey {
  key: string;
  /** Pulumi.yaml's `type`; none for a JSON object (project config declares no object type). */
  type?: "string" | "integer" | "boolean" | "array";
  /** The argument's field this key sets (`versions.containerd`), when it sets one field. */
  field?: string;
  /** One line for Pulumi.yaml and the docs, when the argument's own summary does not fit the key. */
  summary?: string;
  /** Markdown the docs add after the summary (links, details). */
  docs?: string;
}

/** What checks an argument needs besides its own value: whether it is a secret, and the options it follows. */
export interface CheckContext {
  secret: boolean;
  /** The options checked before this one (see `needs`). */
  resolved: Partial<WorkerOptions>;
}

export interface Declaration<T = unknown> {
  /** One line: what the argument does (the docs and Pulumi.yaml use it). */
  summary: string;
  /** The value it takes when not given; `undefined` for none. Required arguments have none. */
  default?: T;
  required?: boolean;
  /** Checks a given value (or the default) and returns it as the component uses it; the error names the input. */
  check?: (value: unknown, context: CheckContext) => T;
  /** Options this check reads from `context.resolved`, so they are checked first. */
  needs?: OptionName[];
  /** The program's stack config keys that set this argument. */
  config?: ConfigKey[];
}

type Declarations = { [K in OptionName]-?: Declaration<WorkerOptions[K]> } & {
  [K in Exclude<ArgumentName, OptionName>]-?: Declaration;
};

const perPart = (suffix: "Version" | "Sha256", summary: (part: Part) => string): ConfigKey[] =>
  PARTS.map((part) => ({ key: `${part}${suffix}`, type: "string", field: part, summary: summary(part) }));

const PART_NAMES: Record<Part, string> = {
  containerd: "containerd release (1.7.x or 2.x)",
  runc: "runc release",
  cni: "CNI plugins release",
  crictl: "crictl (cri-tools) release; match your Kubernetes minor",
};

/**
 * Every argument, in the order `resolveOptions` checks them (a check runs after those it `needs`).
 */
export const DECLARATIONS: Declarations = {
  connection: {
    summary: "How to reach the worker over SSH: `@pulumi/command`'s connection; pass the key as a secret.",
    required: true,
  },
  detectHostDrift: {
    summary:
      "Read the worker (one read-only SSH round trip) on every preview and up, so that hand edits show as changes and the next up restores them.",
    default: true,
    check: booleanCheck("detectHostDrift"),
    config: [{ key: "detectHostDrift", type: "boolean", docs: "([drift](drift.md))" }],
  },
  after: {
    summary: "Resources this worker waits for before any of its steps runs, to roll a change out one worker at a time.",
  },
  downloadBaseUrl: {
    summary: "Replaces `https://github.com` in every artifact URL, for a mirror that keeps GitHub's release paths.",
    default: DEFAULT_DOWNLOAD_BASE_URL,
    check: (value, { secret }) => resolveBaseUrl(value, secret),
    config: [
      {
        key: "downloadBaseUrl",
        type: "string",
        docs: "May be a secret, and only as a secret may it carry credentials (`user:password@`); it reaches the workers only on the install steps' standard input.",
      },
    ],
  },
  httpProxy: {
    summary: "HTTP_PROXY, HTTPS_PROXY and NO_PROXY for containerd's image pulls; a change restarts containerd.",
    check: (value, { secret }) => resolveHttpProxy(value, secret),
    config: [
      {
        key: "httpProxy",
        type: "string",
        field: "http",
        summary: "HTTP_PROXY for containerd (image pulls), as a systemd drop-in; a change restarts containerd.",
        docs: "An http(s) URL, with credentials only as a secret, in a root-only environment file ([HTTP proxy](operations.md#http-proxy)).",
      },
      { key: "httpsProxy", type: "string", field: "https", summary: "HTTPS_PROXY for containerd." },
      {
        key: "noProxy",
        type: "array",
        field: "noProxy",
        summary: "NO_PROXY entries for containerd (hosts, domains, CIDRs).",
      },
    ],
  },
  registries: {
    summary:
      "Per-registry hosts.toml (mirrors, CA, headers) under /etc/containerd/certs.d, keyed by registry host; a change rewrites those files only and never restarts containerd.",
    default: {},
    check: (value) => resolveRegistries(value),
    config: [
      {
        key: "registries",
        summary:
          "Registry mirrors and private registries as a JSON object keyed by registry host (docker.io, my.registry:5000, _default), each { server?, mirrors?: [{ host, capabilities?, caPem?, skipVerify?, headers?, overridePath? }] }; rendered as /etc/containerd/certs.d/<registry>/hosts.toml, a change rewrites those files only and never restarts containerd.",
        docs: "May be a secret (headers often carry credentials) ([registry mirrors](operations.md#registry-mirrors-and-private-registries)).",
      },
    ],
  },
  arch: {
    summary:
      "CPU architecture of the workers' release artifacts: `amd64`, `arm64` or `auto` (the ready step asks the worker, `uname -m`).",
    default: DEFAULT_ARCH,
    check: resolveArch,
    config: [
      {
        key: "arch",
        type: "string",
        summary:
          "CPU architecture of the workers, amd64, arm64 or auto (EC2 - from what the instance type runs; hosts - each worker is asked); picks the Ubuntu 24.04 AMI and the release artifacts.",
        docs: "A fixed arch that the instance type does not run fails at preview (`invalid instanceType: m7g.large runs arm64, not arch amd64`).",
      },
    ],
  },
  sandboxImage: {
    summary: "Pinned pause image for pod sandboxes: `[registry/]name:tag` or `name@sha256:digest`.",
    default: DEFAULT_SANDBOX_IMAGE,
    check: resolveSandboxImage,
    config: [{ key: "sandboxImage", type: "string" }],
  },
  systemdCgroup: {
    summary: "Use the systemd cgroup driver, else cgroupfs (the kubelet must use the same driver).",
    default: true,
    check: booleanCheck("systemdCgroup"),
    config: [{ key: "systemdCgroup", type: "boolean" }],
  },
  staticBuild: {
    summary:
      "Install containerd's static release, for workers whose glibc is older than the dynamic build needs (2.35 from containerd 2.1 on).",
    default: false,
    check: booleanCheck("staticBuild"),
    config: [{ key: "staticBuild", type: "boolean" }],
  },
  purgeStateOnDestroy: {
    summary:
      "On destroy, also remove /var/lib/containerd, /run/containerd and /var/lib/cni (images, snapshots, CNI state); run `pulumi up` after changing it, then `pulumi destroy`.",
    default: false,
    check: booleanCheck("purgeStateOnDestroy"),
    config: [{ key: "purgeStateOnDestroy", type: "boolean", docs: "([Destroy](operations.md#destroy))" }],
  },
  readyTimeoutSeconds: {
    summary: `How long a just-booted worker has to accept SSH and finish cloud-init, in seconds (${READY_TIMEOUT_RANGE.min} to ${READY_TIMEOUT_RANGE.max}).`,
    default: DEFAULT_READY_TIMEOUT_SECONDS,
    check: resolveReadyTimeout,
    config: [
      {
        key: "readyTimeoutSeconds",
        type: "integer",
        docs: "([readiness](operations.md#readiness-of-a-just-booted-worker))",
      },
    ],
  },
  versions: {
    summary: "Release versions (`X.Y.Z`) of containerd, runc, the CNI plugins and crictl.",
    default: { ...DEFAULT_VERSIONS },
    check: (value) => resolveVersions(value as Partial<Record<Part, string>>),
    config: perPart("Version", (part) => `${PART_NAMES[part]}.`),
  },
  checksums: {
    summary: "Pinned sha256 per part; without one, the release's own checksum file is checked.",
    default: {},
    check: (value) => resolveChecksums(value as Partial<Record<Part, string>>),
    config: perPart(
      "Sha256",
      (part) => `Pinned sha256 of the ${part} artifact; without it the release's own checksum file is checked.`,
    ),
  },
  containerdSettings: {
    summary: "Extra config.toml settings, checked against the chosen containerd version's keys.",
    default: {},
    needs: ["versions", "sandboxImage", "systemdCgroup"],
    check: (value, { resolved }) =>
      resolveContainerdSettings(value, {
        containerdVersion: (resolved.versions as Versions).containerd,
        sandboxImage: resolved.sandboxImage as string,
        systemdCgroup: resolved.systemdCgroup as boolean,
      }),
    config: [
      {
        key: "containerdSettings",
        summary:
          'Extra containerd settings as a JSON object (the component\'s containerdSettings), e.g. `{"snapshotter":"native","maxContainerLogLineSize":65536}`; checked against the chosen containerd version at preview.',
        docs: "([component.md](component.md#extra-containerd-settings-containerdsettings))",
      },
    ],
  },
};

/** The arguments the component wires itself (the connection, drift reads, dependencies): no worker option. */
const WIRING_ARGUMENTS = ["connection", "detectHostDrift", "after"] as const satisfies readonly Exclude<
  ArgumentName,
  OptionName
>[];

/** The arguments that become WorkerOptions, in check order. */
export const OPTION_NAMES = (Object.keys(DECLARATIONS) as ArgumentName[]).filter(
  (name): name is OptionName => !(WIRING_ARGUMENTS as readonly string[]).includes(name),
);

/** How a default reads in docs and doc comments: its JSON, or `none`. */
export function defaultText(declaration: Declaration): string {
  return declaration.default === undefined ? "none" : JSON.stringify(declaration.default);
}
