/**
 * Checks the component's plain inputs and fills in defaults. Pure, so a bad
 * value fails at preview, before any SSH, with the input's name and what is allowed.
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
import { DEFAULT_READY_TIMEOUT_SECONDS, READY_TIMEOUT_RANGE } from "./readiness";
import { MIRROR_KEYS, REGISTRY_KEYS, RegistryHosts, resolveRegistries } from "./registries";
import { childPath, resolveBoolean } from "./shape";
import { DOMAIN, resolveUrl, urlForDisplay } from "./urls";
import { ContainerdSettings } from "../args/containerdSettingsArgs";
import { resolveContainerdSettings } from "./containerdSettings";
import { InvalidInputError } from "./errors";
import { CONTROL_CHARACTERS } from "./controlCharacters";
import * as pulumi from "@pulumi/pulumi";
import { WorkerOptionsInput } from "../args/containerdWorkerArgs";

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

const VERSION = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const PINNED_IMAGE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG}(?:@${DIGEST})?|@${DIGEST})$`,
);

export { resolveRegistries, urlForDisplay };

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

/** Names a control character for an error message, without repeating the value that holds it. */
function describeControl(text: string): string {
  const char = CONTROL_CHARACTERS.exec(text)?.[0] ?? "";
  const code = char.codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0");
  return `holds a control character (U+${code ?? "?"}); newlines, carriage returns, NUL, the other C0 characters, DEL and U+2028/2029 are refused`;
}

/**
 * Refuses control characters in every string of an input, map keys included, naming where: every
 * value may reach a root shell. PEM text (`caPem`) is the one place lines are allowed.
 */
export function checkNoControlCharacters(input: string, value: unknown): void {
  const multiline = /\.caPem$/.test(input);
  if (typeof value === "string") {
    const text = multiline ? value.replace(/\r?\n/g, "") : value;
    if (CONTROL_CHARACTERS.test(text)) throw new InvalidInputError(input, describeControl(text));
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => checkNoControlCharacters(childPath(input, index), item));
    return;
  }
  if (typeof value === "object" && value !== null && !pulumi.Output.isInstance(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (CONTROL_CHARACTERS.test(key)) throw new InvalidInputError(`${input} key`, describeControl(key));
      checkNoControlCharacters(childPath(input, key), item);
    }
  }
}

/**
 * The inputs that may be given as secrets (credentials in a proxy or mirror URL, registry headers).
 * They reach a worker only on a step's standard input, never in a script (see planWorker).
 */
export const SECRET_CAPABLE_INPUTS = ["downloadBaseUrl", "httpProxy", "registries"] as const;
export type SecretCapableInput = (typeof SECRET_CAPABLE_INPUTS)[number];
export type SecretCapableOptions = Pick<WorkerOptions, SecretCapableInput>;

/** The secret-capable inputs' own field names: the structure of an input, never its secret text. */
const FIELD_NAMES = new Set(["http", "https", "noProxy", ...REGISTRY_KEYS, ...MIRROR_KEYS]);

/** The user's keys in a value (registry and header names), at any depth: the input's field names are not. */
function keysIn(value: unknown): string[] {
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => [...(FIELD_NAMES.has(key) ? [] : [key]), ...keysIn(item)]);
}

/** Every string in a value, the user's keys included. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => [...(FIELD_NAMES.has(key) ? [] : [key]), ...stringsIn(item)]);
}

/**
 * An error's input path with the user's keys in it replaced: only whole key segments (`["key"]`, or
 * `.key` for an identifier), so that the path still names the input, whatever short text a secret holds.
 */
function scrubPath(input: string, keys: string[]): string {
  return keys.reduce((out, key) => {
    const quoted = out.split(`[${JSON.stringify(key)}]`).join('["(secret)"]');
    if (!/^[A-Za-z_$][\w$]*$/.test(key)) return quoted;
    return quoted.replace(new RegExp(`\\.${key.replace(/\$/g, "\\$")}(?=$|[.[ ])`, "g"), ".(secret)");
  }, input);
}

/** Runs a check of a secret input; an error it raises repeats none of the secret's text. */
function withoutSecrets<T>(secret: unknown, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const texts = stringsIn(secret)
      .flatMap((text) => [text, JSON.stringify(text).slice(1, -1)])
      .filter((text) => text.length > 0)
      .sort((a, b) => b.length - a.length);
    const scrub = (message: string) => texts.reduce((out, text) => out.split(text).join("(secret)"), message);
    throw new InvalidInputError(scrubPath(error.input, keysIn(secret)), scrub(error.detail));
  }
}

/** Checks the secret-capable inputs; `secret` names those given as secrets. */
export function resolveSecretCapable(
  input: Partial<Record<SecretCapableInput, unknown>>,
  secret: ReadonlySet<SecretCapableInput> = new Set(),
): SecretCapableOptions {
  const checked = <T>(name: SecretCapableInput, check: () => T): T => {
    checkNoControlCharacters(name, input[name]);
    return secret.has(name) ? withoutSecrets(input[name], check) : check();
  };
  return {
    downloadBaseUrl: checked("downloadBaseUrl", () =>
      resolveBaseUrl(input.downloadBaseUrl ?? DEFAULT_DOWNLOAD_BASE_URL, secret.has("downloadBaseUrl")),
    ),
    httpProxy: checked("httpProxy", () => resolveHttpProxy(input.httpProxy, secret.has("httpProxy"))),
    registries: checked("registries", () => resolveRegistries(input.registries)),
  };
}

/** Validates every plain option and applies the defaults stated in `catalog.ts`. */
export function resolveOptions(
  input: WorkerOptionsInput,
  secret: ReadonlySet<SecretCapableInput> = new Set(),
): WorkerOptions {
  const secretCapable = resolveSecretCapable(input, secret);
  for (const [name, value] of Object.entries(input)) {
    if (!(SECRET_CAPABLE_INPUTS as readonly string[]).includes(name)) checkNoControlCharacters(name, value);
  }
  const arch: unknown = input.arch ?? DEFAULT_ARCH;
  if (typeof arch !== "string" || !(ARCH_CHOICES as readonly string[]).includes(arch)) {
    throw new InvalidInputError(
      "arch",
      `${JSON.stringify(arch)} is not supported; use one of ${ARCH_CHOICES.join(", ")}`,
    );
  }
  const sandboxImage: unknown = input.sandboxImage ?? DEFAULT_SANDBOX_IMAGE;
  if (typeof sandboxImage !== "string" || !PINNED_IMAGE.test(sandboxImage)) {
    throw new InvalidInputError(
      "sandboxImage",
      `${JSON.stringify(sandboxImage)} is not a pinned image reference; expected [registry/]name:tag or name@sha256:digest (e.g. "${DEFAULT_SANDBOX_IMAGE}")`,
    );
  }
  const systemdCgroup = resolveBoolean("systemdCgroup", input.systemdCgroup) ?? true;
  const staticBuild = resolveBoolean("staticBuild", input.staticBuild) ?? false;
  const purgeStateOnDestroy = resolveBoolean("purgeStateOnDestroy", input.purgeStateOnDestroy) ?? false;
  const readyTimeoutSeconds: unknown = input.readyTimeoutSeconds ?? DEFAULT_READY_TIMEOUT_SECONDS;
  const { min, max } = READY_TIMEOUT_RANGE;
  if (
    typeof readyTimeoutSeconds !== "number" ||
    !Number.isInteger(readyTimeoutSeconds) ||
    readyTimeoutSeconds < min ||
    readyTimeoutSeconds > max
  ) {
    throw new InvalidInputError(
      "readyTimeoutSeconds",
      `${JSON.stringify(readyTimeoutSeconds)}: expected whole seconds from ${min} to ${max} (default ${DEFAULT_READY_TIMEOUT_SECONDS})`,
    );
  }
  const versions = resolveVersions(input.versions);
  return {
    versions,
    arch: arch as ArchChoice,
    sandboxImage,
    systemdCgroup,
    ...secretCapable,
    checksums: resolveChecksums(input.checksums),
    purgeStateOnDestroy,
    staticBuild,
    readyTimeoutSeconds,
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
  /** A bastion: checked the same way, as `connection.proxy.*`. */
  proxy?: unknown;
}

function checkHop(input: string, host: unknown, port: unknown, user: unknown): void {
  checkNoControlCharacters(`${input}.host`, host);
  checkNoControlCharacters(`${input}.user`, user);
  if (typeof host !== "string" || host.trim() === "") {
    throw new InvalidInputError(`${input}.host`, `${JSON.stringify(host)}: expected a host name or IP address`);
  }
  if (port !== undefined && (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InvalidInputError(`${input}.port`, `${JSON.stringify(port)}: expected an integer from 1 to 65535`);
  }
  if (user !== undefined && (typeof user !== "string" || user.trim() === "")) {
    throw new InvalidInputError(`${input}.user`, `${JSON.stringify(user)}: expected a user name`);
  }
}

/** Checks host, port and user of a connection and of its bastion; run again once Output values are known. */
export function checkConnection(connection: ConnectionFacts): void {
  const { host, port, user, proxy } = connection;
  checkHop("connection", host, port, user);
  if (proxy === undefined) return;
  if (typeof proxy !== "object" || proxy === null) {
    throw new InvalidInputError("connection.proxy", `${JSON.stringify(proxy)}: expected { host, port?, user?, ... }`);
  }
  const bastion = proxy as ConnectionFacts;
  checkHop("connection.proxy", bastion.host, bastion.port, bastion.user);
}
