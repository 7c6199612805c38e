/**
 * Checks the component's plain inputs and fills in defaults. Pure, so a bad
 * value fails at preview, before any SSH, with the input's name and what is allowed.
 */
import {
  Arch,
  ARCHES,
  configSchemaFor,
  DEFAULT_ARCH,
  DEFAULT_DOWNLOAD_BASE_URL,
  DEFAULT_SANDBOX_IMAGE,
  DEFAULT_VERSIONS,
  Part,
  PARTS,
  Versions,
} from "./catalog";
import { ContainerdSettings, resolveContainerdSettings } from "./containerdSettings";
import { InvalidInputError } from "./errors";

/** The plain (non-Output) options of a ContainerdWorker, as a user writes them. */
export interface WorkerOptionsInput {
  versions?: Partial<Record<Part, string>>;
  arch?: string;
  sandboxImage?: string;
  systemdCgroup?: boolean;
  downloadBaseUrl?: string;
  checksums?: Partial<Record<Part, string>>;
  /** The proxy containerd uses to pull images (not the downloads, which run on the worker as root's curl). */
  httpProxy?: HttpProxyInput;
  /** Extra config.toml settings, checked against the chosen containerd version's keys. Default: none. */
  containerdSettings?: ContainerdSettings;
}

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
  arch: Arch;
  sandboxImage: string;
  systemdCgroup: boolean;
  downloadBaseUrl: string;
  checksums: Partial<Record<Part, string>>;
  /** Absent when containerd needs no proxy. */
  httpProxy?: HttpProxyInput;
  /** `{}` when none are set. */
  containerdSettings: ContainerdSettings;
}

export { InvalidInputError };

const VERSION = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

// The image reference grammar of distribution/reference, with a tag or digest required.
const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
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

function resolveBaseUrl(value: unknown): string {
  const detail = `${JSON.stringify(value)} is not an http(s) URL without query or fragment (e.g. "${DEFAULT_DOWNLOAD_BASE_URL}")`;
  if (typeof value !== "string") throw new InvalidInputError("downloadBaseUrl", detail);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidInputError("downloadBaseUrl", detail);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash || url.username) {
    throw new InvalidInputError("downloadBaseUrl", detail);
  }
  return value.replace(/\/+$/, "");
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

function resolveProxyUrl(input: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const invalid = new InvalidInputError(
    input,
    `${JSON.stringify(value)} is not a proxy URL such as "http://proxy.internal:3128"`,
  );
  // Quotes, backslashes and spaces would break the systemd Environment= line.
  if (typeof value !== "string" || /[\s"'\\]/.test(value)) throw invalid;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid;
  return value;
}

/** Checks the proxy settings; none at all means no drop-in. */
function resolveHttpProxy(given: HttpProxyInput | undefined): HttpProxyInput | undefined {
  if (given === undefined) return undefined;
  const http = resolveProxyUrl("httpProxy.http", given.http);
  const https = resolveProxyUrl("httpProxy.https", given.https);
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

/** Validates every plain option and applies the defaults stated in `catalog.ts`. */
export function resolveOptions(input: WorkerOptionsInput): WorkerOptions {
  const arch: unknown = input.arch ?? DEFAULT_ARCH;
  if (typeof arch !== "string" || !(ARCHES as readonly string[]).includes(arch)) {
    throw new InvalidInputError("arch", `${JSON.stringify(arch)} is not supported; use one of ${ARCHES.join(", ")}`);
  }
  const sandboxImage: unknown = input.sandboxImage ?? DEFAULT_SANDBOX_IMAGE;
  if (typeof sandboxImage !== "string" || !PINNED_IMAGE.test(sandboxImage)) {
    throw new InvalidInputError(
      "sandboxImage",
      `${JSON.stringify(sandboxImage)} is not a pinned image reference; expected [registry/]name:tag or name@sha256:digest (e.g. "${DEFAULT_SANDBOX_IMAGE}")`,
    );
  }
  const systemdCgroup: unknown = input.systemdCgroup ?? true;
  if (typeof systemdCgroup !== "boolean") {
    throw new InvalidInputError("systemdCgroup", `${JSON.stringify(systemdCgroup)} is not a boolean`);
  }
  const versions = resolveVersions(input.versions);
  return {
    versions,
    arch: arch as Arch,
    sandboxImage,
    systemdCgroup,
    downloadBaseUrl: resolveBaseUrl(input.downloadBaseUrl ?? DEFAULT_DOWNLOAD_BASE_URL),
    checksums: resolveChecksums(input.checksums),
    httpProxy: resolveHttpProxy(input.httpProxy),
    containerdSettings: resolveContainerdSettings(input.containerdSettings, {
      containerdVersion: versions.containerd,
      sandboxImage,
      systemdCgroup,
    }),
  };
}

/** The parts of an SSH connection that can be checked when they are known. */
export interface ConnectionFacts {
  host?: unknown;
  port?: unknown;
  user?: unknown;
}

/** Checks host, port and user of a connection; run again once Output values are known. */
export function checkConnection(connection: ConnectionFacts): void {
  const { host, port, user } = connection;
  if (typeof host !== "string" || host.trim() === "") {
    throw new InvalidInputError("connection.host", `${JSON.stringify(host)}: expected a host name or IP address`);
  }
  if (port !== undefined && (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InvalidInputError("connection.port", `${JSON.stringify(port)}: expected an integer from 1 to 65535`);
  }
  if (user !== undefined && (typeof user !== "string" || user.trim() === "")) {
    throw new InvalidInputError("connection.user", `${JSON.stringify(user)}: expected a user name`);
  }
}
