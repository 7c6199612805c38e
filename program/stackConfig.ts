/**
 * The Pulumi program's configuration (declared in Pulumi.yaml), parsed and
 * checked before any resource exists, so a typo fails the preview by name.
 */
import type { WorkerOptionsInput } from "containerd-worker";
import {
  Arch,
  ArchChoice,
  ArgumentName,
  checkArgument,
  checkNoControlCharacters,
  ConfigKey,
  CONTROL_CHARACTERS,
  DECLARATIONS,
  DEFAULT_DRIFT_READ_CONCURRENCY,
  hostPort,
  InvalidInputError,
  MAX_DRIFT_READ_CONCURRENCY,
  parseHostKey,
  resolveSecretCapable,
  SECRET_CAPABLE_INPUTS,
  SecretCapableInput,
} from "containerd-worker/config";

/** An existing host given as `name=user@address:port` (user and port optional). */
export interface ExistingHost {
  name: string;
  address: string;
  user?: string;
  port?: number;
}

/** EC2 workers created by the program. */
export interface Ec2Workers {
  count: number;
  instanceType: string;
  /** `auto`: the instance type says which AMI, and each worker which artifacts. */
  arch: ArchChoice;
  sshCidr: string;
  sshPublicKey: string;
  subnetId?: string;
  /** Instance metadata only with a session token (IMDSv2): `httpTokens: "required"`. */
  requireImdsv2: boolean;
  /** An encrypted root volume (the account's default EBS key unless it sets another). */
  encryptRootVolume: boolean;
}

/** A bastion (SSH jump host) given as `[user@]address[:port]`. */
export interface Bastion {
  address: string;
  user?: string;
  port?: number;
}

/**
 * How a change reaches the workers: `all-at-once` (the default); `one-at-a-time`, each worker after the one before
 * it has run the change and answered CRI with it, so a change that breaks containerd stops at one worker; or
 * `first-then-rest`, the first worker listed as the canary and then all the others at once.
 */
export const ROLLOUTS = ["all-at-once", "one-at-a-time", "first-then-rest"] as const;
export type Rollout = (typeof ROLLOUTS)[number];

export interface StackConfig {
  /** Existing hosts, or EC2 instances to create: exactly one of the two. */
  workers: { kind: "hosts"; hosts: ExistingHost[] } | { kind: "ec2"; ec2: Ec2Workers };
  /** SSH user for workers (and a bastion) that don't name one. */
  sshUser: string;
  /** Every worker is reached through this host when set. */
  bastion?: Bastion;
  /** Read each worker on preview and up to report and repair host drift. */
  detectHostDrift: boolean;
  /** How many of those reads run at once, across the program. */
  driftReadConcurrency: number;
  rollout: Rollout;
  /** Plain values, checked; those named in `secretInputs` were set with `--secret`. */
  options: WorkerOptionsInput;
  /** The secret-capable options the stack set as secrets: the program passes them on as secrets. */
  secretInputs: Set<SecretCapableInput>;
  /** Pinned SSH host keys by worker name (`connection.hostKey`); a worker without one accepts any key. */
  hostKeys: Record<string, string>;
  /** The bastion's pinned host key (`proxy.hostKey`). */
  bastionHostKey?: string;
}

/** The subset of `pulumi.Config` this module reads (so tests can hand it plain values). */
export interface ConfigSource {
  get(key: string): string | undefined;
  getNumber(key: string): number | undefined;
  getBoolean(key: string): boolean | undefined;
  getObject<T>(key: string): T | undefined;
  /** Whether the stack set `key` with `pulumi config set --secret`. Default: no key is. */
  isSecret?(key: string): boolean;
}

/** The config keys that set an argument of the component, as DECLARATIONS names them. */
const configKeysOf = (name: ArgumentName): ConfigKey[] => DECLARATIONS[name].config ?? [];

const ADDRESS = "(?:([a-z_][a-z0-9_.-]*)@)?([^@:\\s]+|\\[[0-9a-fA-F:]+\\])(?::(\\d+))?";
const HOST_SPEC = new RegExp(`^([A-Za-z0-9][A-Za-z0-9-]*)=${ADDRESS}$`);
const BASTION_SPEC = new RegExp(`^${ADDRESS}$`);
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses `worker-0=ubuntu@203.0.113.10:22` (user and port optional). */
export function parseHostSpec(spec: string, index: number): ExistingHost {
  const match = HOST_SPEC.exec(spec.trim());
  const input = `hosts[${index}]`;
  if (!match || match[1] === undefined || match[3] === undefined) {
    throw new InvalidInputError(
      input,
      `${JSON.stringify(spec)} is not name=[user@]address[:port], e.g. "worker-0=ubuntu@203.0.113.10:22"`,
    );
  }
  return { name: match[1], ...addressOf(input, match[2], match[3], match[4]) };
}

function addressOf(input: string, user: string | undefined, address: string, portText: string | undefined): Bastion {
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new InvalidInputError(input, `port ${port} is outside 1-65535`);
  }
  return { address: address.replace(/^\[|\]$/g, ""), user, port };
}

/** Parses `bastion`: `ubuntu@203.0.113.5:22` (user and port optional). */
export function parseBastion(spec: string): Bastion {
  const match = BASTION_SPEC.exec(spec.trim());
  if (!match || match[2] === undefined) {
    throw new InvalidInputError(
      "bastion",
      `${JSON.stringify(spec)} is not [user@]address[:port], e.g. "ubuntu@203.0.113.5" or "bastion.example.com:2222"`,
    );
  }
  return addressOf("bastion", match[1], match[2], match[3]);
}

function checkCidr(value: string): string {
  const match = CIDR.exec(value);
  const valid = match?.slice(1, 5).every((octet) => Number(octet) <= 255) && Number(match?.[5]) <= 32;
  if (!valid) {
    throw new InvalidInputError("sshCidr", `${JSON.stringify(value)} is not an IPv4 CIDR such as 203.0.113.7/32`);
  }
  return value;
}

/** One key, read as its Pulumi.yaml type says (a JSON object when it gives none). */
function readKey(config: ConfigSource, { key, type }: ConfigKey): unknown {
  if (type === "string") return config.get(key);
  if (type === "integer") return config.getNumber(key);
  if (type === "boolean") return config.getBoolean(key);
  return config.getObject<unknown>(key);
}

/**
 * The component's arguments the stack sets: each from its keys in DECLARATIONS (`containerdVersion`
 * sets `versions.containerd`), left out when none of its keys is set, so its default is the component's.
 */
function argumentsFrom(config: ConfigSource): Partial<Record<ArgumentName, unknown>> {
  const args: Partial<Record<ArgumentName, unknown>> = {};
  for (const name of Object.keys(DECLARATIONS) as ArgumentName[]) {
    for (const key of configKeysOf(name)) {
      const value = readKey(config, key);
      if (value === undefined) continue;
      if (key.field === undefined) args[name] = value;
      else args[name] = { ...(args[name] as object | undefined), [key.field]: value };
    }
  }
  return args;
}

/**
 * `config` with every string it hands out checked for control characters, an error naming the key
 * (and, for a key set as a secret, only the key: the rest of a path may be its text).
 */
function refusingControlCharacters(config: ConfigSource): ConfigSource {
  const checked = <T>(key: string, value: T): T => {
    try {
      checkNoControlCharacters(key, value);
    } catch (error) {
      if (error instanceof InvalidInputError && config.isSecret?.(key)) throw new InvalidInputError(key, error.detail);
      throw error;
    }
    return value;
  };
  return {
    get: (key) => checked(key, config.get(key)),
    getNumber: (key) => config.getNumber(key),
    getBoolean: (key) => config.getBoolean(key),
    getObject: <T>(key: string) => checked(key, config.getObject<T>(key)),
    isSecret: (key) => config.isSecret?.(key) ?? false,
  };
}

/**
 * A host key pin from config: one public key line (`ssh-ed25519 AAAA... [comment]`), checked the way
 * pulumi-command will read it, so a wrong value fails the preview by its key and not the first step.
 */
function checkHostKey(input: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new InvalidInputError(input, `expected a public host key line such as "ssh-ed25519 AAAA... root@worker"`);
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw new InvalidInputError(input, "holds a control character (a newline?); give one key line");
  }
  try {
    parseHostKey(value);
  } catch (error) {
    throw new InvalidInputError(input, (error as Error).message);
  }
  return value;
}

/** `hostKeys`: an object of worker name to host key line, naming only workers the stack has. */
function readHostKeys(config: ConfigSource, workerNames: string[]): Record<string, string> {
  const value = config.getObject<unknown>("hostKeys") ?? {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidInputError(
      "hostKeys",
      'expected an object of worker name to host key, e.g. {"worker-0": "ssh-ed25519 AAAA..."}',
    );
  }
  const hostKeys: Record<string, string> = {};
  for (const [name, key] of Object.entries(value)) {
    if (!workerNames.includes(name)) {
      throw new InvalidInputError(
        `hostKeys.${name}`,
        `no worker is named ${name}; the workers are ${workerNames.join(", ")}`,
      );
    }
    hostKeys[name] = checkHostKey(`hostKeys.${name}`, key);
  }
  return hostKeys;
}

/** The pins, once the workers' names are known. */
function withHostKeys<T extends Omit<StackConfig, "hostKeys" | "bastionHostKey">>(
  config: ConfigSource,
  stack: T,
  workerNames: string[],
): T & Pick<StackConfig, "hostKeys" | "bastionHostKey"> {
  const bastionHostKey = config.get("bastionHostKey");
  if (bastionHostKey !== undefined && stack.bastion === undefined) {
    throw new InvalidInputError("bastionHostKey", "is set but bastion is not");
  }
  return {
    ...stack,
    hostKeys: readHostKeys(config, workerNames),
    bastionHostKey: bastionHostKey === undefined ? undefined : checkHostKey("bastionHostKey", bastionHostKey),
  };
}

export function readStackConfig(given: ConfigSource): StackConfig {
  // Every key, not only those a worker's inputs check again: a host spec or the SSH user reaches SSH.
  const config = refusingControlCharacters(given);
  // The keys that set a component argument; each worker's component checks them (containerdSettings
  // against the chosen containerd version), arch here too, as it picks the AMI.
  const { connection: _connection, after: _after, detectHostDrift: driftGiven, ...options } = argumentsFrom(config);
  const arch = checkArgument("arch", options.arch);
  const secretInputs = new Set(
    SECRET_CAPABLE_INPUTS.filter((input) => configKeysOf(input).some(({ key }) => config.isSecret?.(key) ?? false)),
  );
  // Checked here so a mistake fails as configuration, not per worker; an error repeats no secret.
  resolveSecretCapable(options, secretInputs);
  const sshUser = config.get("sshUser") ?? "ubuntu";
  const bastionSpec = config.get("bastion");
  const bastion = bastionSpec === undefined ? undefined : parseBastion(bastionSpec);
  const detectHostDrift = checkArgument("detectHostDrift", driftGiven);
  const rollout = config.get("rollout") ?? "all-at-once";
  if (!(ROLLOUTS as readonly string[]).includes(rollout)) {
    throw new InvalidInputError("rollout", `${JSON.stringify(rollout)} is not one of ${ROLLOUTS.join(", ")}`);
  }
  const driftReadConcurrency = config.getNumber("driftReadConcurrency") ?? DEFAULT_DRIFT_READ_CONCURRENCY;
  if (
    !Number.isInteger(driftReadConcurrency) ||
    driftReadConcurrency < 1 ||
    driftReadConcurrency > MAX_DRIFT_READ_CONCURRENCY
  ) {
    throw new InvalidInputError(
      "driftReadConcurrency",
      `${driftReadConcurrency} is not a whole number from 1 to ${MAX_DRIFT_READ_CONCURRENCY}`,
    );
  }
  const common = {
    sshUser,
    bastion,
    detectHostDrift,
    driftReadConcurrency,
    rollout: rollout as Rollout,
    options: { ...options, arch } as WorkerOptionsInput,
    secretInputs,
  };

  const specs = config.getObject<unknown>("hosts") ?? [];
  if (!Array.isArray(specs) || specs.some((spec) => typeof spec !== "string")) {
    throw new InvalidInputError("hosts", 'expected a list of strings like "worker-0=ubuntu@203.0.113.10:22"');
  }
  if (specs.length > 0) {
    const hosts = (specs as string[]).map(parseHostSpec);
    const names = new Set<string>();
    for (const host of hosts) {
      if (names.has(host.name)) throw new InvalidInputError("hosts", `the name ${host.name} is used twice`);
      names.add(host.name);
    }
    // One machine under two names would get two components installing and repairing the same files.
    const addresses = new Map<string, string>();
    for (const host of hosts) {
      const address = hostPort({ host: host.address, port: host.port });
      const other = addresses.get(address);
      if (other !== undefined) {
        throw new InvalidInputError(
          "hosts",
          `${other} and ${host.name} are the same machine, ${address}; list it once`,
        );
      }
      addresses.set(address, host.name);
    }
    return withHostKeys(
      config,
      { workers: { kind: "hosts", hosts }, ...common },
      hosts.map((host) => host.name),
    );
  }

  const count = config.getNumber("workerCount") ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 100) {
    throw new InvalidInputError("workerCount", `${count} is not a whole number from 1 to 100`);
  }
  const sshCidr = config.get("sshCidr");
  const sshPublicKey = config.get("sshPublicKey");
  if (sshCidr === undefined || sshPublicKey === undefined) {
    throw new InvalidInputError(
      sshCidr === undefined ? "sshCidr" : "sshPublicKey",
      "required to create EC2 workers (or set hosts to use machines you already have)",
    );
  }
  const ec2Stack: Omit<StackConfig, "hostKeys" | "bastionHostKey"> = {
    workers: {
      kind: "ec2",
      ec2: {
        count,
        instanceType: config.get("instanceType") ?? (arch === "arm64" ? "t4g.medium" : "t3.medium"),
        arch: arch,
        sshCidr: checkCidr(sshCidr),
        sshPublicKey,
        subnetId: config.get("subnetId"),
        requireImdsv2: config.getBoolean("requireImdsv2") ?? true,
        encryptRootVolume: config.getBoolean("encryptRootVolume") ?? true,
      },
    },
    ...common,
  };
  return withHostKeys(
    config,
    ec2Stack,
    Array.from({ length: count }, (_, index) => ec2WorkerName(index)),
  );
}

/** The name of EC2 worker `index`: its component, and its key in `hostKeys`. */
export function ec2WorkerName(index: number): string {
  return `worker-${index}`;
}

/**
 * The arch of an EC2 worker, from what AWS says its instance type runs
 * (`supportedArchitectures`): it picks the AMI for `auto`, and must agree with a fixed `arch`.
 */
export function instanceArch(ec2: Pick<Ec2Workers, "instanceType" | "arch">, supported: string[]): Arch {
  const arch = supported.includes("arm64") ? "arm64" : supported.includes("x86_64") ? "amd64" : undefined;
  const runs = supported.length > 0 ? supported.join(", ") : "no architecture AWS named";
  if (arch === undefined) {
    throw new InvalidInputError("instanceType", `${ec2.instanceType} runs ${runs}; the workers need x86_64 or arm64`);
  }
  if (ec2.arch !== "auto" && ec2.arch !== arch) {
    throw new InvalidInputError(
      "instanceType",
      `${ec2.instanceType} runs ${runs}, not arch ${ec2.arch}; set arch to ${arch} or auto, or pick another instance type`,
    );
  }
  return arch;
}
