/**
 * Checks the component's inputs and fills in defaults, as `declarations.ts` states them. Pure, so a bad
 * value fails at preview, before any SSH, with the input's name and what is allowed; a value known only
 * later (an Output) is checked the same way once it is.
 */
import { MIRROR_KEYS, REGISTRY_KEYS, resolveRegistries } from "./registries";
import { childPath } from "./shape";
import { urlForDisplay } from "./urls";
import { InvalidInputError } from "./errors";
import { CONTROL_CHARACTERS } from "./controlCharacters";
import * as pulumi from "@pulumi/pulumi";
import { WorkerOptionsInput } from "../args/containerdWorkerArgs";
import { Declaration, DECLARATIONS, HttpProxyInput, OPTION_NAMES, OptionName, WorkerOptions } from "./declarations";

export { resolveRegistries, urlForDisplay, OPTION_NAMES };
export type { HttpProxyInput, OptionName, WorkerOptions };

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

/** True when a value holds no Output or Promise at any depth: it can be checked at construction. */
export function isDeepPlain(value: unknown): boolean {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return false;
  if (typeof value !== "object" || value === null) return true;
  return Object.values(value).every(isDeepPlain);
}

/**
 * Checks the options `known` names (and, of those, the ones whose `needs` are known too), in the order
 * `DECLARATIONS` lists them, each with its default when not given; `secret` names those given as secrets.
 * The component checks its plain inputs so at construction and all of them once every one is known.
 */
export function resolveKnownOptions(
  input: Partial<Record<OptionName, unknown>>,
  secret: ReadonlySet<OptionName>,
  known: (name: OptionName) => boolean,
): Partial<WorkerOptions> {
  const names = OPTION_NAMES.filter(
    (name) => known(name) && (DECLARATIONS[name].needs ?? []).every((need) => known(need)),
  );
  for (const name of names) checkNoControlCharacters(name, input[name]);
  const resolved: Partial<Record<OptionName, unknown>> = {};
  for (const name of names) {
    const declaration = DECLARATIONS[name];
    const given = input[name] === undefined ? declaration.default : input[name];
    const check = () =>
      declaration.check?.(given, { secret: secret.has(name), resolved: resolved as Partial<WorkerOptions> });
    resolved[name] = secret.has(name) ? withoutSecrets(input[name], check) : check();
  }
  return resolved as Partial<WorkerOptions>;
}

/** The arguments checked on their own, whose checks need no other argument. */
type StandaloneArgument = "detectHostDrift" | "arch";
type Checked<K extends StandaloneArgument> = K extends OptionName ? WorkerOptions[K] : boolean;

/** Checks one argument on its own as its declaration says, the default when not given; returns it checked. */
export function checkArgument<K extends StandaloneArgument>(name: K, value: unknown): Checked<K> {
  const declaration = DECLARATIONS[name] as Declaration<Checked<K>>;
  const given = value === undefined ? declaration.default : value;
  return declaration.check?.(given, { secret: false, resolved: {} }) as Checked<K>;
}

/** Checks the secret-capable inputs; `secret` names those given as secrets. */
export function resolveSecretCapable(
  input: Partial<Record<SecretCapableInput, unknown>>,
  secret: ReadonlySet<SecretCapableInput> = new Set(),
): SecretCapableOptions {
  const only = new Set<OptionName>(SECRET_CAPABLE_INPUTS);
  return resolveKnownOptions(input, secret, (name) => only.has(name)) as SecretCapableOptions;
}

/** Validates every option and applies the defaults stated in `declarations.ts`. */
export function resolveOptions(
  input: WorkerOptionsInput | Partial<Record<OptionName, unknown>>,
  secret: ReadonlySet<OptionName> = new Set(),
): WorkerOptions {
  const given = input as Partial<Record<OptionName, unknown>>;
  for (const [name, value] of Object.entries(given)) {
    if (!(OPTION_NAMES as readonly string[]).includes(name)) checkNoControlCharacters(name, value);
  }
  return resolveKnownOptions(given, secret, () => true) as WorkerOptions;
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
