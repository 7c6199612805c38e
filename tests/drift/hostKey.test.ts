import * as crypto from "node:crypto";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server } from "ssh2";
import { sshKeyPair } from "../sshKeyPair";
import {
  checkHostKeys,
  fingerprint,
  hostKeyAlgorithms,
  matchesHostKey,
  parseHostKey,
} from "../../components/drift/hostKey";
import { ProbeConnection, runProbe } from "../../components/drift/sshProbe";

// Keys made for this run only.
const hostKey = sshKeyPair("ed25519", { comment: "root@worker" });
const otherKey = sshKeyPair("ed25519");
const rsaKey = sshKeyPair("rsa", { bits: 2048 });
const ecdsaKey = sshKeyPair("ecdsa", { bits: 256 });
const clientKey = sshKeyPair("ed25519");

/** An OpenSSH public key line for a fresh ed25519 key whose 32 key bytes start with 0x00. */
function ed25519LineStartingWithZero(): string {
  const field = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  for (;;) {
    const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
    const raw = der.subarray(der.length - 32);
    if (raw[0] !== 0) continue;
    return `ssh-ed25519 ${Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64")}`;
  }
}

/** The wire form of a public key line, as a server presents it. */
function wire(publicLine: string): Buffer {
  return Buffer.from(publicLine.split(" ")[1] ?? "", "base64");
}

describe("reading a host key pin as pulumi-command does (ssh.ParseAuthorizedKey)", () => {
  const [type, base64] = hostKey.public.split(" ") as [string, string];

  it.each([
    ["a .pub file's line with its comment", `${type} ${base64} root@worker`],
    ["the bare type and key", `${type} ${base64}`],
    ["with surrounding blanks and a trailing newline", `  ${type} ${base64}\n`],
    ["an ssh-keyscan / known_hosts line", `203.0.113.10 ${type} ${base64}`],
    ["after comment lines", `# worker-0\n\n${type} ${base64}`],
  ])("accepts %s", (_what, text) => {
    const key = parseHostKey(text);
    expect(key.type).toBe("ssh-ed25519");
    expect(key.blob.equals(wire(hostKey.public))).toBe(true);
  });

  it("accepts an ed25519 key whose first byte is zero (one real key in 256)", () => {
    const line = ed25519LineStartingWithZero();
    expect(parseHostKey(line).blob.equals(wire(line))).toBe(true);
  });

  it("takes the type from the key itself, as Go's parser does", () => {
    expect(parseHostKey(`ssh-rsa ${base64}`).type).toBe("ssh-ed25519");
    expect(parseHostKey(rsaKey.public).type).toBe("ssh-rsa");
    expect(parseHostKey(ecdsaKey.public).type).toBe("ecdsa-sha2-nistp256");
  });

  it.each([
    ["an empty text", ""],
    ["a fingerprint", fingerprint(wire(hostKey.public))],
    ["a key without its type", base64],
    ["a truncated key", `${type} ${base64.slice(0, 20)}`],
    ["a private key", hostKey.private],
    ["base64 that is no key", `${type} ${Buffer.from("hello world").toString("base64")}`],
  ])("refuses %s", (_what, text) => {
    expect(() => parseHostKey(text)).toThrow(/expected a public host key line/);
  });

  it("never repeats the text it refuses (it could be a private key)", () => {
    expect(() => parseHostKey(hostKey.private)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("PRIVATE") as unknown }) as Error,
    );
  });
});

describe("checkHostKeys: a component's connection", () => {
  it("passes a connection without pins, or with readable ones", () => {
    expect(() => checkHostKeys({})).not.toThrow();
    expect(() => checkHostKeys({ hostKey: hostKey.public, proxy: { hostKey: otherKey.public } })).not.toThrow();
  });

  it.each([
    [{ hostKey: "ssh-ed25519" }, /^invalid connection\.hostKey: expected a public host key line/],
    [{ hostKey: 42 }, /^invalid connection\.hostKey: expected a public host key line/],
    [{ hostKey: hostKey.public, proxy: { hostKey: "nope" } }, /^invalid connection\.proxy\.hostKey: expected/],
  ])("refuses %j, naming the input", (connection, message) => {
    expect(() => checkHostKeys(connection)).toThrow(message);
  });
});

describe("comparing the presented key (ssh.FixedHostKey)", () => {
  it("matches the pinned key byte for byte and nothing else", () => {
    const pin = parseHostKey(hostKey.public);
    expect(matchesHostKey(pin, wire(hostKey.public))).toBe(true);
    expect(matchesHostKey(pin, wire(otherKey.public))).toBe(false);
    expect(matchesHostKey(pin, wire(rsaKey.public))).toBe(false);
    expect(matchesHostKey(pin, Buffer.concat([wire(hostKey.public), Buffer.from([0])]))).toBe(false);
  });

  it("asks the server for a key of the pinned type (RSA with its SHA-2 signatures)", () => {
    expect(hostKeyAlgorithms(parseHostKey(hostKey.public))).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms(parseHostKey(rsaKey.public))).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
  });

  it("prints OpenSSH's SHA256 fingerprint", () => {
    // ssh-keygen -lf prints the unpadded base64 of the key's sha256.
    expect(fingerprint(wire(hostKey.public))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

/**
 * An SSH server in this process: it answers every exec with `probe-ok`, accepts any client, and, as a bastion,
 * forwards direct-tcpip channels. `keys` are its host keys (ed25519 first).
 */
function startServer(keys: string[]): Promise<{ port: number; logins: () => number; close: () => void }> {
  let logins = 0;
  const server = new Server({ hostKeys: keys }, (client) => {
    client.on("error", () => undefined);
    client.on("authentication", (ctx) => ctx.accept());
    client.on("ready", () => {
      logins++;
      client.on("session", (accept) => {
        accept().on("exec", (acceptExec) => {
          const stream = acceptExec();
          stream.write("probe-ok\n");
          stream.exit(0);
          stream.end();
        });
      });
      client.on("tcpip", (accept, _reject, info) => {
        const channel = accept();
        const socket = net.connect(info.destPort, info.destIP);
        socket.on("error", () => channel.close());
        channel.pipe(socket).pipe(channel);
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({ port, logins: () => logins, close: () => server.close() });
    }),
  );
}

describe("the drift probe with a pinned host key", () => {
  let worker: Awaited<ReturnType<typeof startServer>>;
  let bastion: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    // The worker also has an RSA key: a pin of either type must get that key presented.
    worker = await startServer([hostKey.private, rsaKey.private]);
    bastion = await startServer([otherKey.private]);
  });
  afterAll(() => {
    worker.close();
    bastion.close();
  });

  const direct = (pin?: string): ProbeConnection => ({
    host: "127.0.0.1",
    port: worker.port,
    user: "ubuntu",
    privateKey: clientKey.private,
    agentSocketPath: undefined,
    hostKey: pin,
  });
  const viaBastion = (pin?: string, bastionPin?: string): ProbeConnection => ({
    ...direct(pin),
    proxy: { host: "127.0.0.1", port: bastion.port, user: "jump", privateKey: clientKey.private, hostKey: bastionPin },
  });

  it("reads a worker that presents the pinned key", async () => {
    expect(await runProbe(direct(hostKey.public), "probe")).toBe("probe-ok\n");
  });

  it("reads it when the pin is the worker's other (RSA) key: the server is asked for that type", async () => {
    expect(await runProbe(direct(rsaKey.public), "probe")).toBe("probe-ok\n");
  });

  it("accepts any key without a pin, as pulumi-command does", async () => {
    expect(await runProbe(direct(), "probe")).toBe("probe-ok\n");
  });

  it("refuses a worker whose key is not the pinned one, before logging in", async () => {
    const before = worker.logins();
    const refused = runProbe(direct(otherKey.public), "probe");
    await expect(refused).rejects.toThrow(
      `the worker's host key did not match its pinned hostKey: it presented ${fingerprint(wire(hostKey.public))}, ` +
        `the pin is ${fingerprint(wire(otherKey.public))}`,
    );
    expect(worker.logins()).toBe(before);
  });

  it("refuses a pin of a type the worker has no key of", async () => {
    await expect(runProbe(direct(ecdsaKey.public), "probe")).rejects.toThrow(
      "the worker's host key did not match its pinned hostKey: it offers no ecdsa-sha2-nistp256 key",
    );
  });

  it("refuses an unreadable pin without dialing", async () => {
    const before = worker.logins();
    await expect(runProbe(direct("ssh-ed25519 not-a-key"), "probe")).rejects.toThrow(
      /^the worker's hostKey cannot be read: expected a public host key line/,
    );
    expect(worker.logins()).toBe(before);
  });

  it("checks each hop against its own pin through a bastion", async () => {
    expect(await runProbe(viaBastion(hostKey.public, otherKey.public), "probe")).toBe("probe-ok\n");
    await expect(runProbe(viaBastion(hostKey.public, hostKey.public), "probe")).rejects.toThrow(
      /^the bastion's host key did not match its pinned hostKey/,
    );
    await expect(runProbe(viaBastion(otherKey.public, otherKey.public), "probe")).rejects.toThrow(
      /^the worker's host key did not match its pinned hostKey/,
    );
    expect(await runProbe(viaBastion(), "probe")).toBe("probe-ok\n");
  });
});
