/** The `registries` argument: its check, and what it is after validation. */
import { DEFAULT_MIRROR_CAPABILITIES, REGISTRY_CAPABILITIES, RegistryCapability } from "../args/registryArgs";
import { InvalidInputError } from "./errors";
import { checkKeys, isPlainObject, resolveBoolean } from "./shape";
import { DOMAIN, resolveUrl } from "./urls";

/** A mirror after validation: capabilities filled in, header values as lists, the PEM ending in a newline. */
export interface RegistryMirror {
  host: string;
  capabilities: RegistryCapability[];
  caPem?: string;
  skipVerify?: boolean;
  headers?: Record<string, string[]>;
  overridePath?: boolean;
}

export interface RegistryHosts {
  server?: string;
  mirrors: RegistryMirror[];
}

// A registry as containerd names its directory: host[:port], or _default for every registry without one.
const REGISTRY_NAME = new RegExp(`^(?:_default|${DOMAIN})$`);
// RFC 9110 token; values exclude control characters, which would split or end a header.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[^\x00-\x1f\x7f]*$/;
const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----$/;
export const MIRROR_KEYS = ["host", "capabilities", "caPem", "skipVerify", "headers", "overridePath"];
export const REGISTRY_KEYS = ["server", "mirrors"];

/** An http(s) URL with no query, fragment or credentials (a mirror may have a path). */
function resolveRegistryUrl(input: string, value: unknown, example: string): string {
  return resolveUrl(input, value, { secret: false, example, credentials: false });
}

function resolveCapabilities(input: string, value: unknown): RegistryCapability[] {
  if (value === undefined) return [...DEFAULT_MIRROR_CAPABILITIES];
  const allowed = `one of ${REGISTRY_CAPABILITIES.join(", ")}, each once`;
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidInputError(input, `${JSON.stringify(value)} is not a non-empty list of ${allowed}`);
  }
  value.forEach((capability: unknown, index) => {
    if (
      typeof capability !== "string" ||
      !(REGISTRY_CAPABILITIES as readonly string[]).includes(capability) ||
      value.indexOf(capability) !== index
    ) {
      throw new InvalidInputError(`${input}[${index}]`, `${JSON.stringify(capability)} is not allowed; use ${allowed}`);
    }
  });
  return value as RegistryCapability[];
}

function resolveHeaders(input: string, value: unknown): Record<string, string[]> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    throw new InvalidInputError(input, `${JSON.stringify(value)} is not an object of header names to values`);
  }
  const headers: [string, string[]][] = [];
  for (const [name, given] of Object.entries(value)) {
    const at = `${input}[${JSON.stringify(name)}]`;
    if (!HEADER_NAME.test(name)) throw new InvalidInputError(at, "is not a valid HTTP header name");
    const values: unknown[] = Array.isArray(given) ? given : [given];
    if (values.length === 0 || values.some((v) => typeof v !== "string" || !HEADER_VALUE.test(v))) {
      // Header values are often credentials: the error names the header, never its value.
      throw new InvalidInputError(at, "is not a string or a non-empty list of strings without control characters");
    }
    headers.push([name, values as string[]]);
  }
  // Own properties: a header may be named __proto__, which assignment would make the object's prototype.
  return Object.fromEntries(headers);
}

function resolveCaPem(input: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const pem = typeof value === "string" ? value.replace(/\r\n/g, "\n").trim() : undefined;
  const blocks = pem?.split(/(?<=-----END CERTIFICATE-----)\s*(?=-----BEGIN)/) ?? [];
  if (pem === undefined || pem === "" || !blocks.every((block) => PEM_CERTIFICATE.test(block))) {
    throw new InvalidInputError(
      input,
      "is not PEM certificate text (one or more -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- blocks)",
    );
  }
  return `${blocks.join("\n")}\n`;
}

function resolveMirror(input: string, value: unknown): RegistryMirror {
  if (!isPlainObject(value)) {
    throw new InvalidInputError(
      input,
      `${JSON.stringify(value)} is not an object like { host: "https://mirror:5000" }`,
    );
  }
  checkKeys(input, value, MIRROR_KEYS);
  const mirror: RegistryMirror = {
    host: resolveRegistryUrl(`${input}.host`, value.host, "https://mirror.internal:5000"),
    capabilities: resolveCapabilities(`${input}.capabilities`, value.capabilities),
  };
  const caPem = resolveCaPem(`${input}.caPem`, value.caPem);
  const skipVerify = resolveBoolean(`${input}.skipVerify`, value.skipVerify);
  const headers = resolveHeaders(`${input}.headers`, value.headers);
  const overridePath = resolveBoolean(`${input}.overridePath`, value.overridePath);
  // Only what was given, so that hosts.toml holds only what the user set.
  return {
    ...mirror,
    ...(caPem === undefined ? {} : { caPem }),
    ...(skipVerify === undefined ? {} : { skipVerify }),
    ...(headers === undefined ? {} : { headers }),
    ...(overridePath === undefined ? {} : { overridePath }),
  };
}

/** Checks the registries' host settings; pure, so a mistake fails at preview with its path. */
export function resolveRegistries(given: unknown): Record<string, RegistryHosts> {
  if (given === undefined) return {};
  if (!isPlainObject(given)) {
    throw new InvalidInputError(
      "registries",
      `${JSON.stringify(given)} is not an object keyed by registry host, e.g. { "docker.io": { mirrors: [...] } }`,
    );
  }
  const registries: Record<string, RegistryHosts> = {};
  for (const [registry, value] of Object.entries(given)) {
    const input = `registries[${JSON.stringify(registry)}]`;
    if (!REGISTRY_NAME.test(registry)) {
      throw new InvalidInputError(
        input,
        "is not a registry host[:port] (e.g. docker.io, my.registry:5000) or _default",
      );
    }
    if (!isPlainObject(value)) {
      throw new InvalidInputError(input, `${JSON.stringify(value)} is not an object like { mirrors: [...] }`);
    }
    checkKeys(input, value, REGISTRY_KEYS);
    const server =
      value.server === undefined
        ? undefined
        : resolveRegistryUrl(`${input}.server`, value.server, "https://registry-1.docker.io");
    const mirrorsGiven: unknown = value.mirrors ?? [];
    if (!Array.isArray(mirrorsGiven)) {
      throw new InvalidInputError(`${input}.mirrors`, `${JSON.stringify(mirrorsGiven)} is not a list`);
    }
    const mirrors = mirrorsGiven.map((mirror: unknown, index) => resolveMirror(`${input}.mirrors[${index}]`, mirror));
    mirrors.forEach((mirror, index) => {
      // Each mirror is a TOML table keyed by its URL: a second one would silently replace the first.
      if (mirrors.findIndex((other) => other.host === mirror.host) !== index) {
        throw new InvalidInputError(`${input}.mirrors[${index}].host`, `${mirror.host} is listed twice`);
      }
    });
    if (server === undefined && mirrors.length === 0) {
      throw new InvalidInputError(input, "sets neither server nor mirrors");
    }
    registries[registry] = server === undefined ? { mirrors } : { server, mirrors };
  }
  return registries;
}
