/**
 * A pinned SSH host key, read and compared the way `@pulumi/command` 1.2.x
 * does for `connection.hostKey` (and `proxy.hostKey`), so the drift probe
 * trusts exactly the hosts the steps trust.
 *
 * What pulumi-command does (provider/pkg/provider/remote/connection.go,
 * `connectionBase.SSHConfig`): with `hostKey` set it parses it with Go's
 * `ssh.ParseAuthorizedKey` (an authorized_keys line: `type base64 [comment]`,
 * optionally after one leading field, so a known_hosts or ssh-keyscan line
 * parses too), checks the server's key with `ssh.FixedHostKey` (the key's wire
 * bytes must be equal, else `ssh: host key mismatch`) and offers only that
 * key's type as host key algorithm. Without `hostKey` it uses
 * `ssh.InsecureIgnoreHostKey()`: any key is accepted.
 */
import * as crypto from "node:crypto";
import { utils } from "ssh2";
import { InvalidInputError } from "../inputs/errors";

/** The host key types a pin may name (certificates and DSA are not accepted). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

export interface PinnedHostKey {
  /** The key's type as its wire form names it, e.g. `ssh-ed25519`. */
  type: string;
  /** The key in SSH wire form: what the server presents in the key exchange. */
  blob: Buffer;
}

/** The type named at the start of a key's wire form (uint32 length, then the name). */
function wireType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString("latin1");
}

function blobOf(field: string | undefined): PinnedHostKey | undefined {
  if (field === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(field)) return undefined;
  const blob = Buffer.from(field, "base64");
  const type = wireType(blob);
  if (type === undefined || !(HOST_KEY_TYPES as readonly string[]).includes(type)) return undefined;
  // ssh2's own parser: the key must be one it could be handed in the key exchange.
  const parsed = utils.parseKey(`${type} ${field}`);
  if (parsed instanceof Error || Array.isArray(parsed)) return undefined;
  return { type, blob };
}

/**
 * Reads a host key pin: the first line that is neither blank nor a `#` comment,
 * as `type base64 [comment]`, or after one leading field (`host type base64` as
 * ssh-keyscan and known_hosts print it). Like Go's parser, the key's type is
 * taken from its base64 wire form. Throws an Error saying what is wrong.
 */
export function parseHostKey(text: string): PinnedHostKey {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#"));
  const fields = line?.split(/[ \t]+/) ?? [];
  const key = blobOf(fields[1]) ?? blobOf(fields[2]);
  if (key === undefined) {
    throw new Error(
      `expected a public host key line such as the worker's /etc/ssh/ssh_host_ed25519_key.pub ` +
        `("ssh-ed25519 AAAA... [comment]"), of type ${HOST_KEY_TYPES.join(", ")}`,
    );
  }
  return key;
}

/** The host key algorithms to offer for a pin, so the server presents a key of the pinned type. */
export function hostKeyAlgorithms(key: PinnedHostKey): string[] {
  // pulumi-command offers just `ssh-rsa` for an RSA pin; the key is the same with the SHA-2 signatures,
  // which OpenSSH 8.8 and later require, so those are offered first.
  return key.type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [key.type];
}

/** `ssh.FixedHostKey`: the presented key must be the pinned one, byte for byte. */
export function matchesHostKey(key: PinnedHostKey, presented: Buffer): boolean {
  return presented.equals(key.blob);
}

/** OpenSSH's fingerprint of a key in wire form (`SHA256:...`), for messages. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Refuses a connection whose `hostKey` or `proxy.hostKey` is not a key line pulumi-command could read:
 * it would fail every step at up; this fails the preview, naming the input.
 */
export function checkHostKeys(connection: { hostKey?: unknown; proxy?: unknown }): void {
  const check = (input: string, value: unknown) => {
    if (value === undefined) return;
    try {
      if (typeof value !== "string") throw new Error("expected a public host key line");
      parseHostKey(value);
    } catch (error) {
      throw new InvalidInputError(input, (error as Error).message);
    }
  };
  check("connection.hostKey", connection.hostKey);
  const proxy = connection.proxy as { hostKey?: unknown } | undefined;
  if (typeof proxy === "object" && proxy !== null) check("connection.proxy.hostKey", proxy.hostKey);
}
