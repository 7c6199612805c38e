/**
 * Runs the read-only drift probe on a worker from the Pulumi program itself,
 * over one SSH connection (through the bastion when the connection names one).
 * It runs on preview as well as up: nothing here writes to the worker, and no
 * key leaves the process.
 */
import { Client, ConnectConfig } from "ssh2";
import type { Duplex } from "node:stream";

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
  proxy?: Omit<ProbeConnection, "proxy">;
}

/** How long one probe may take, connection included. */
export const PROBE_TIMEOUT_MS = 20_000;

function connectConfig(connection: Omit<ProbeConnection, "proxy">, sock?: Duplex): ConnectConfig {
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
  };
}

function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    // `on`, not `once`: ssh2 can emit a second error (e.g. the connection lost after a failed
    // handshake), and an unheard one would crash the program.
    client.once("ready", () => resolve(client)).on("error", reject);
    client.connect(config);
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
  const clients: Client[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)), PROBE_TIMEOUT_MS);
  });
  const probe = async (): Promise<string> => {
    let sock: Duplex | undefined;
    if (connection.proxy) {
      const bastion = await connect(connectConfig(connection.proxy));
      clients.push(bastion);
      sock = await new Promise<Duplex>((resolve, reject) =>
        bastion.forwardOut("127.0.0.1", 0, connection.host, connection.port ?? 22, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      );
    }
    const client = await connect(connectConfig(connection, sock));
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
