/**
 * Runs the read-only drift probe on a worker from the Pulumi program itself,
 * over one SSH connection (through the bastion when the connection names one).
 * It runs on preview as well as up: nothing here writes to the worker, and no
 * key leaves the process.
 *
 * It trusts the hosts the steps trust: with `hostKey` (and `proxy.hostKey`)
 * set, each hop must present that key, as pulumi-command requires (see
 * hostKey.ts); without one, any key is accepted, as pulumi-command does.
 */
import { Client, ConnectConfig, ServerHostKeyAlgorithm } from "ssh2";
import type { Duplex } from "node:stream";
import { fingerprint, hostKeyAlgorithms, matchesHostKey, parseHostKey, PinnedHostKey } from "./hostKey";

/** The parts of `@pulumi/command`'s connection the probe uses. */
export interface ProbeConnection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  password?: string;
  agentSocketPath?: string;
  perDialTimeout?: number;
  /** The host's public key line; when set, the host must present exactly this key. */
  hostKey?: string;
  proxy?: Omit<ProbeConnection, "proxy">;
}

type Hop = Omit<ProbeConnection, "proxy">;

/** How long one probe may take, connection included. */
export const PROBE_TIMEOUT_MS = 20_000;

/** The pin of one hop, read before anything is dialed; `which` names the hop in messages. */
function pinOf(hop: Hop, which: "worker" | "bastion"): PinnedHostKey | undefined {
  if (hop.hostKey === undefined) return undefined;
  try {
    return parseHostKey(hop.hostKey);
  } catch (error) {
    throw new Error(`the ${which}'s hostKey cannot be read: ${(error as Error).message}`);
  }
}

function connectConfig(connection: Hop, pin: PinnedHostKey | undefined, sock?: Duplex): ConnectConfig {
  return {
    host: connection.host,
    port: connection.port ?? 22,
    username: connection.user ?? "root",
    privateKey: connection.privateKey,
    passphrase: connection.privateKeyPassword,
    password: connection.password,
    agent: connection.agentSocketPath ?? process.env.SSH_AUTH_SOCK,
    readyTimeout: (connection.perDialTimeout ?? 15) * 1000,
    sock,
    ...(pin && { algorithms: { serverHostKey: hostKeyAlgorithms(pin) as ServerHostKeyAlgorithm[] } }),
  };
}

/**
 * Connects one hop. With a pin, the key the host presents must be the pinned one; a mismatch
 * ends the handshake before any credential is sent, and the error says which host's key it was.
 */
function connect(config: ConnectConfig, pin: PinnedHostKey | undefined, which: "worker" | "bastion"): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: Buffer | undefined;
    const hostVerifier = pin && ((key: Buffer) => ((presented = key), matchesHostKey(pin, key)));
    const fail = (error: Error) => {
      if (pin && presented && !matchesHostKey(pin, presented)) {
        return reject(
          new Error(
            `the ${which}'s host key did not match its pinned hostKey: it presented ${fingerprint(presented)}, ` +
              `the pin is ${fingerprint(pin.blob)}`,
          ),
        );
      }
      if (pin && /no matching host key format/i.test(error.message)) {
        return reject(
          new Error(`the ${which}'s host key did not match its pinned hostKey: it offers no ${pin.type} key`),
        );
      }
      reject(error);
    };
    // `on`, not `once`: ssh2 can emit a second error (e.g. the connection lost after a failed
    // handshake), and an unheard one would crash the program.
    client.once("ready", () => resolve(client)).on("error", fail);
    client.connect({ ...config, ...(hostVerifier && { hostVerifier }) });
  });
}

function exec(client: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error) return reject(error);
      let stdout = "";
      let stderr = "";
      stream.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      stream.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      stream.on("close", (code: number | null) => {
        if (code === 0) resolve(stdout);
        else reject(new Error(`the probe exited ${String(code)}: ${stderr.trim()}`));
      });
    });
  });
}

/** Runs `script` on the worker and returns its standard output. */
export async function runProbe(connection: ProbeConnection, script: string): Promise<string> {
  // An unreadable pin fails here, before anything is dialed (pulumi-command fails the same way).
  const pin = pinOf(connection, "worker");
  const bastionPin = connection.proxy && pinOf(connection.proxy, "bastion");
  const clients: Client[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
  });
  const probe = async (): Promise<string> => {
    let sock: Duplex | undefined;
    if (connection.proxy) {
      const bastion = await connect(connectConfig(connection.proxy, bastionPin), bastionPin, "bastion");
      clients.push(bastion);
      sock = await new Promise<Duplex>((resolve, reject) =>
        bastion.forwardOut("127.0.0.1", 0, connection.host, connection.port ?? 22, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      );
    }
    const client = await connect(connectConfig(connection, pin, sock), pin, "worker");
    clients.push(client);
    return exec(client, script);
  };
  try {
    return await Promise.race([probe(), timeout]);
  } finally {
    clearTimeout(timer);
    for (const client of clients.reverse()) client.end();
  }
}
