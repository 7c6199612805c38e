// SSH runner that behaves like pulumi-command's remote provider (v1.2.1; the remote/*.go files are
// unchanged from v1.2.1 to the newest snapshot, 010bd8e0). References are to github.com/pulumi/pulumi-command
// unless stated otherwise:
//   provider/pkg/provider/remote/commandOutputs.go  (*CommandOutputs).run, logAndWrapSetenvErr
//   provider/pkg/provider/remote/connection.go      Connection.Dial, connectionBase.SSHConfig, dialWithRetry,
//                                                   reachedDialingErrorLimit, getDialErrorLimit
//   provider/pkg/provider/remote/proxyConnection.go ProxyConnection defaults
//   provider/pkg/provider/util/util.go              PulumiCommandStdout / PulumiCommandStderr
//   github.com/pulumi/pulumi sdk/go/common/util/retry/until.go  Retryer.Until (delay/backoff defaults)
//   golang.org/x/crypto/ssh session.go              Session.Setenv ("ssh: setenv failed"), Waitmsg.String
//
// One deliberate difference: the provider never closes the *ssh.Client it dials in run() (only the session),
// so its connections stay open until the provider process exits. This runner closes each connection after
// its command. Everything the remote side can observe per command is otherwise the same.

import * as net from "node:net";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";

export interface ProxyConnectionInputs {
  host: string;
  port?: number;
  user?: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agentSocketPath?: string;
  dialErrorLimit?: number;
  perDialTimeout?: number;
  hostKey?: string;
}

export interface ConnectionInputs extends ProxyConnectionInputs {
  proxy?: ProxyConnectionInputs;
}

export interface SshStats {
  /** SSH connections that completed the handshake and authentication (each proxy hop counts). */
  connections: number;
  /** Dial attempts (TCP + handshake), failed ones included. */
  dialAttempts: number;
}

/** Process-wide counters (the child reports them in its result). */
export const sshStats: SshStats = { connections: 0, dialAttempts: 0 };

export interface RunCommandOptions {
  /** commandOutputs.go: sent only when non-empty. */
  stdin?: string;
  /** commandOutputs.go: session.Setenv per entry; the first rejected name fails the command. */
  environment?: Record<string, string>;
  /** commandOutputs.go: default true; sends PULUMI_COMMAND_STDOUT/STDERR of the previous run when non-empty. */
  addPreviousOutputInEnv?: boolean;
  /** The stdout/stderr in state before this run ("" on create). */
  previousStdout?: string;
  previousStderr?: string;
  /** Receives the messages the provider logs (setenv refusals). */
  onLog?: (severity: "error" | "warning" | "info", message: string) => void;
  stats?: SshStats;
}

export interface CommandResult {
  /** With ONE trailing "\n" removed, as the provider stores it (strings.TrimSuffix). */
  stdout: string;
  stderr: string;
  exitCode: number;
  /** stdout and stderr interleaved in arrival order, untrimmed. */
  combined: string;
}

export type RemoteErrorKind = "config" | "dial" | "setenv" | "exec" | "exit";

export class RemoteCommandError extends Error {
  constructor(
    message: string,
    readonly kind: RemoteErrorKind,
    readonly exitCode: number | null = null,
    readonly stdout = "",
    readonly stderr = "",
    readonly combined = "",
    readonly signal: string | null = null,
  ) {
    super(message);
    this.name = "RemoteCommandError";
  }
}

// ---------- helpers mirroring Go formatting ----------

/** Go's %q (strconv.Quote) for the strings a command can hold. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\x07":
        out += "\\a";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
      case "\v":
        out += "\\v";
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

// golang.org/x/crypto/ssh session.go: signals map used for "exit-signal" (status = 128 + number).
const SIGNAL_NUMBERS: Record<string, number> = {
  ABRT: 6,
  ALRM: 14,
  FPE: 8,
  HUP: 1,
  ILL: 4,
  INT: 2,
  KILL: 9,
  PIPE: 13,
  QUIT: 3,
  SEGV: 11,
  TERM: 15,
  USR1: 10,
  USR2: 12,
};

function tcpErrorText(err: NodeJS.ErrnoException, host: string, port: number): string {
  const addr = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return `dial tcp ${addr}: connect: connection refused`;
    case "ETIMEDOUT":
      return `dial tcp ${addr}: i/o timeout`;
    case "EHOSTUNREACH":
      return `dial tcp ${addr}: connect: no route to host`;
    case "ENETUNREACH":
      return `dial tcp ${addr}: connect: network is unreachable`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `dial tcp: lookup ${host}: no such host`;
    default:
      return `dial tcp ${addr}: ${err.message}`;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * connection.go dialWithRetry + retry.Until (pulumi sdk/go/common/util/retry/until.go):
 * attempt `f`; on failure, `dials = try + 1`; fail when limit > -1 and dials > limit, with
 * "after <try> failed attempts: <err>" (so the default limit 10 makes 11 attempts and says "10").
 * Between attempts Until waits DefaultDelay 100 ms, times DefaultBackoff 1.5 each round, capped at
 * DefaultMaxDelay 5 s (dialWithRetry passes no Delay, so the defaults apply: ~11.3 s over 10 retries).
 */
export async function dialWithRetry<T>(
  msg: string,
  maxAttempts: number,
  f: () => Promise<T>,
  onLog?: RunCommandOptions["onLog"],
): Promise<T> {
  let delay = 100;
  for (let attempt = 0; ; attempt++) {
    if (delay > 5000) delay = 5000;
    try {
      return await f();
    } catch (e) {
      const dials = attempt + 1;
      const text = e instanceof Error ? e.message : String(e);
      if (maxAttempts > -1 && dials > maxAttempts) {
        throw new RemoteCommandError(`after ${attempt} failed attempts: ${text}`, "dial");
      }
      onLog?.("info", `${msg} ${dials}/${maxAttempts === -1 ? "inf" : String(maxAttempts)} failed: retrying`);
      await sleep(delay);
      delay = delay * 1.5;
    }
  }
}

interface Ssh2Internals {
  _chanMgr: { add(cb: unknown): number };
  _protocol: {
    session(id: number, window: number, packetSize: number): void;
    env(id: number, key: string, val: string, wantReply: boolean): void;
    exec(id: number, cmd: string, wantReply: boolean): void;
  };
}
interface ChannelInternals {
  outgoing: { id: number; state: string };
  _callbacks: Array<(hadErr: unknown) => void>;
  subtype?: string;
  allowHalfOpen: boolean;
}

// ssh2's exec() sends "env" requests with want-reply=false, so a refused name goes unnoticed. Go's
// Session.Setenv asks for a reply and fails with "ssh: setenv failed". To do the same we open the session
// channel and send the requests ourselves (ssh2 1.17 internals: ChannelManager, Protocol.env/exec).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const channelConsts = require("ssh2/lib/Channel.js") as { MAX_WINDOW: number; PACKET_SIZE: number };

function openSession(client: Client): Promise<ClientChannel> {
  const c = client as unknown as Ssh2Internals;
  if (!c._chanMgr || !c._protocol) throw new Error("ssh2 internals changed: cannot open a session channel");
  return new Promise((resolve, reject) => {
    const wrapper = Object.assign(
      (err: Error | undefined, chan: ClientChannel) => (err ? reject(err) : resolve(chan)),
      { type: "session" },
    );
    const id = c._chanMgr.add(wrapper);
    if (id === -1) {
      reject(new Error("No free channels available"));
      return;
    }
    c._protocol.session(id, channelConsts.MAX_WINDOW, channelConsts.PACKET_SIZE);
  });
}

/** Sends a channel request with want-reply and resolves to whether the server said yes. */
function channelRequest(chan: ClientChannel, send: (remoteId: number) => void): Promise<boolean> {
  const ci = chan as unknown as ChannelInternals;
  return new Promise((resolve, reject) => {
    if (ci.outgoing.state !== "open") {
      reject(new Error("Channel is not open"));
      return;
    }
    ci._callbacks.push((hadErr) => {
      if (hadErr instanceof Error) reject(hadErr);
      else resolve(!hadErr);
    });
    send(ci.outgoing.id);
  });
}

// ---------- dialing ----------

function hostKeyBlob(hostKey: string): Buffer {
  // connectionBase.SSHConfig: ssh.ParseAuthorizedKey(hostKey) -> ssh.FixedHostKey
  const parts = hostKey.trim().split(/\s+/);
  const b64 = parts.length >= 2 ? parts[1] : parts[0];
  return Buffer.from(b64 ?? "", "base64");
}

function tcpConnect(host: string, port: number, timeoutSec: number): Promise<net.Socket> {
  // golang.org/x/crypto/ssh Dial: net.DialTimeout(network, addr, config.Timeout) — Timeout (perDialTimeout)
  // bounds only the TCP connect; 0 means no limit. The SSH handshake itself has no timeout.
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let timer: NodeJS.Timeout | undefined;
    if (timeoutSec > 0) {
      timer = setTimeout(() => {
        sock.destroy();
        const e: NodeJS.ErrnoException = new Error("timeout");
        e.code = "ETIMEDOUT";
        reject(new Error(tcpErrorText(e, host, port)));
      }, timeoutSec * 1000);
    }
    sock.once("connect", () => {
      if (timer) clearTimeout(timer);
      resolve(sock);
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(new Error(tcpErrorText(err, host, port)));
    });
  });
}

interface HopConfig {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  privateKeyPassword?: string;
  agent?: string;
  hostKey?: string;
  dialErrorLimit: number;
  perDialTimeout: number;
}

function hop(c: ProxyConnectionInputs): HopConfig {
  // connection.go / proxyConnection.go Annotate: user "root", port 22, dialErrorLimit 10, perDialTimeout 15.
  // connection_unix.go tryGetDefaultAgentSocket: agentSocketPath, else $SSH_AUTH_SOCK when non-empty.
  const agent = c.agentSocketPath ?? (process.env.SSH_AUTH_SOCK ? process.env.SSH_AUTH_SOCK : undefined);
  return {
    host: c.host,
    port: c.port ?? 22,
    user: c.user ?? "root",
    password: c.password,
    privateKey: c.privateKey,
    privateKeyPassword: c.privateKeyPassword,
    agent,
    hostKey: c.hostKey,
    dialErrorLimit: c.dialErrorLimit ?? 10,
    perDialTimeout: c.perDialTimeout ?? 15,
  };
}

/** SSH handshake + auth over an established stream. Auth order as Go's client: none, then the configured
 * methods in SSHConfig's order: publickey (privateKey), password + keyboard-interactive, agent. */
function sshHandshake(
  sock: NodeJS.ReadableStream & NodeJS.WritableStream,
  h: HopConfig,
  stats: SshStats,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const methods: string[] = ["none"];
    if (h.privateKey !== undefined) methods.push("publickey");
    if (h.password !== undefined) methods.push("password", "keyboard-interactive");
    if (h.agent !== undefined) methods.push("agent");
    const attempted: string[] = [];
    let idx = 0;
    let settled = false;
    const cfg: ConnectConfig = {
      sock: sock as unknown as ConnectConfig["sock"],
      username: h.user,
      readyTimeout: 0, // Go: no handshake timeout
      keepaliveInterval: 0,
      tryKeyboard: h.password !== undefined,
      authHandler: (_methodsLeft, _partial, next) => {
        const m = methods[idx++];
        if (m === undefined) return next(false as never);
        const label = m === "agent" ? "publickey" : m;
        if (!attempted.includes(label)) attempted.push(label);
        return next(m as never);
      },
    };
    if (h.privateKey !== undefined) cfg.privateKey = h.privateKey;
    if (h.privateKeyPassword !== undefined) cfg.passphrase = h.privateKeyPassword;
    if (h.password !== undefined) cfg.password = h.password;
    if (h.agent !== undefined) cfg.agent = h.agent;
    if (h.hostKey !== undefined) {
      const want = hostKeyBlob(h.hostKey);
      cfg.hostVerifier = (key: Buffer) => key.equals(want);
    }
    if (h.password !== undefined) {
      const pw = h.password;
      client.on("keyboard-interactive", (_n, _i, _l, prompts, finish) => finish(prompts.map(() => pw)));
    }
    client.once("ready", () => {
      settled = true;
      stats.connections++;
      resolve(client);
    });
    client.on("error", (err: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      client.end();
      let text = err.message;
      if (err.level === "client-authentication") {
        text = `ssh: unable to authenticate, attempted methods [${attempted.join(" ")}], no supported methods remain`;
      } else if (/verification failed/i.test(text)) {
        text = "ssh: host key mismatch";
      }
      reject(new Error(`ssh: handshake failed: ${text}`));
    });
    client.on("close", () => {
      if (settled) return;
      settled = true;
      reject(new Error("ssh: handshake failed: EOF"));
    });
    client.connect(cfg);
  });
}

function checkKey(h: HopConfig): void {
  // connectionBase.SSHConfig parses the key before dialing; a bad key fails at once (no retries).
  if (h.privateKey === undefined) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { utils } = require("ssh2") as { utils: { parseKey(k: string, pass?: string): unknown } };
  const parsed = utils.parseKey(h.privateKey, h.privateKeyPassword);
  const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (first instanceof Error) {
    const m = /encrypted|passphrase/i.test(first.message)
      ? "ssh: this private key is passphrase protected"
      : /unsupported key format|no key/i.test(first.message)
        ? "ssh: no key found"
        : `ssh: ${first.message}`;
    throw new RemoteCommandError(m, "config");
  }
}

/** connection.go Connection.Dial. Returns the client and a function closing every hop. */
export async function dial(
  conn: ConnectionInputs,
  stats: SshStats = sshStats,
  onLog?: RunCommandOptions["onLog"],
): Promise<{ client: Client; close: () => void }> {
  const target = hop(conn);
  checkKey(target);
  if (!conn.proxy) {
    const client = await dialWithRetry(
      "Dial",
      target.dialErrorLimit,
      async () => {
        stats.dialAttempts++;
        const sock = await tcpConnect(target.host, target.port, target.perDialTimeout);
        return sshHandshake(sock, target, stats);
      },
      onLog,
    );
    return { client, close: () => client.end() };
  }

  const proxy = hop(conn.proxy);
  try {
    checkKey(proxy);
  } catch (e) {
    throw new RemoteCommandError(`proxy: ${(e as Error).message}`, "config");
  }
  const wrap = (e: unknown): never => {
    throw new RemoteCommandError(`proxy: ${(e as Error).message}`, "dial");
  };
  // First the bastion, with the proxy's own dialErrorLimit ("Dial proxy").
  const proxyClient = await dialWithRetry(
    "Dial proxy",
    proxy.dialErrorLimit,
    async () => {
      stats.dialAttempts++;
      const sock = await tcpConnect(proxy.host, proxy.port, proxy.perDialTimeout);
      return sshHandshake(sock, proxy, stats);
    },
    onLog,
  ).catch(wrap);
  try {
    // Then a direct-tcpip channel from the bastion to the target, with the target's limit ("Dial from proxy").
    const stream = await dialWithRetry(
      "Dial from proxy",
      target.dialErrorLimit,
      () =>
        new Promise<ClientChannel>((resolve, reject) =>
          proxyClient.forwardOut("127.0.0.1", 0, target.host, target.port, (err, ch) =>
            err ? reject(new Error(`ssh: rejected: connect failed (${err.message})`)) : resolve(ch),
          ),
        ),
      onLog,
    ).catch(wrap);
    // Then the SSH handshake over that channel (Go retries NewClientConn on the same net.Conn too, so a
    // failed handshake cannot succeed on retry there either). x/crypto/ssh closes the conn when a handshake
    // fails, so each retry fails at once (after the retry's wait) and the limit runs out: the same here,
    // where ssh2 would otherwise wait forever for a server on a channel that is already gone.
    let streamClosed = false;
    const client = await dialWithRetry(
      "Dial",
      target.dialErrorLimit,
      async () => {
        stats.dialAttempts++;
        if (streamClosed) throw new Error("ssh: handshake failed: EOF");
        try {
          return await sshHandshake(stream, target, stats);
        } catch (e) {
          streamClosed = true;
          stream.destroy();
          throw e;
        }
      },
      onLog,
    ).catch(wrap);
    return {
      client,
      close: () => {
        client.end();
        proxyClient.end();
      },
    };
  } catch (e) {
    proxyClient.end();
    throw e;
  }
}

const SETENV_HINT = (key: string) =>
  `Unable to set '${key}'. This only works if your SSH server is configured to accept\n` +
  `\tthese variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could\n` +
  `\tprefix the command itself with the variables in the form 'VAR=value command'`;

/**
 * commandOutputs.go (*CommandOutputs).run: dial, one session, Setenv for `environment` (first refusal fails
 * with `could not set environment variable "K": ssh: setenv failed`), PULUMI_COMMAND_STDOUT/STDERR when
 * addPreviousOutputInEnv is not false and the previous value is non-empty (a refusal is only a warning),
 * stdin when non-empty, then session.Run(cmd): an "exec" request (no pty; sshd runs it with the user's shell
 * as `$SHELL -c cmd`). A non-zero exit fails with
 * `Process exited with status N: running "<cmd>":\n<stdout and stderr interleaved>`.
 */
export async function runRemoteCommand(
  conn: ConnectionInputs,
  cmd: string,
  opts: RunCommandOptions = {},
): Promise<CommandResult> {
  const stats = opts.stats ?? sshStats;
  const { client, close } = await dial(conn, stats, opts.onLog);
  try {
    const chan = await openSession(client);
    const proto = (client as unknown as Ssh2Internals)._protocol;

    // Go ranges over a map: the order is random; the first refused name aborts the run.
    for (const [k, v] of Object.entries(opts.environment ?? {})) {
      const ok = await channelRequest(chan, (id) => proto.env(id, k, v, true));
      if (!ok) {
        opts.onLog?.("error", SETENV_HINT(k));
        chan.close();
        throw new RemoteCommandError(`could not set environment variable ${goQuote(k)}: ssh: setenv failed`, "setenv");
      }
    }
    if (opts.addPreviousOutputInEnv !== false) {
      // util.go: PULUMI_COMMAND_STDOUT / PULUMI_COMMAND_STDERR. Sent only when non-empty; refusal -> warning.
      const prev: Array<[string, string | undefined]> = [
        ["PULUMI_COMMAND_STDOUT", opts.previousStdout],
        ["PULUMI_COMMAND_STDERR", opts.previousStderr],
      ];
      for (const [k, v] of prev) {
        if (!v) continue;
        const ok = await channelRequest(chan, (id) => proto.env(id, k, v, true));
        if (!ok) opts.onLog?.("warning", SETENV_HINT(k));
      }
    }

    const stdoutChunks: Buffer[] = [];
    const stderrChunks: Buffer[] = [];
    const combinedChunks: Buffer[] = [];
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let exitDesc = "";
    let gotExit = false;
    const closed = new Promise<void>((resolve) => chan.once("close", () => resolve()));
    chan.on("data", (d: Buffer) => {
      stdoutChunks.push(d);
      combinedChunks.push(d);
    });
    chan.stderr.on("data", (d: Buffer) => {
      stderrChunks.push(d);
      combinedChunks.push(d);
    });
    chan.on("exit", (code: number | null, signal?: string, _dump?: boolean, desc?: string) => {
      gotExit = true;
      exitCode = code;
      exitSignal = signal ? signal.replace(/^SIG/, "") : null;
      exitDesc = desc ?? "";
    });

    const execOk = await channelRequest(chan, (id) => proto.exec(id, cmd, true));
    if (!execOk) {
      chan.close();
      throw new RemoteCommandError(`ssh: command ${cmd} failed: running ${goQuote(cmd)}:\n`, "exec");
    }
    const ci = chan as unknown as ChannelInternals;
    ci.subtype = "exec";
    ci.allowHalfOpen = true;
    // Go: session.Stdin = strings.NewReader(stdin) only when non-empty; otherwise an empty reader. Either way
    // stdin reaches EOF once copied.
    if (opts.stdin !== undefined && opts.stdin.length > 0) chan.end(opts.stdin);
    else chan.end();

    await closed;
    const stdout = Buffer.concat(stdoutChunks).toString("utf8");
    const stderr = Buffer.concat(stderrChunks).toString("utf8");
    const combined = Buffer.concat(combinedChunks).toString("utf8");

    let status: number;
    let waitMsg: string;
    if (!gotExit) {
      throw new RemoteCommandError(
        `wait: remote command exited without exit status or exit signal: running ${goQuote(cmd)}:\n${combined}`,
        "exit",
        null,
        stdout,
        stderr,
        combined,
      );
    } else if (exitCode !== null) {
      status = exitCode;
      waitMsg = `Process exited with status ${status}`;
    } else {
      status = 128 + (SIGNAL_NUMBERS[exitSignal ?? ""] ?? 0);
      waitMsg = `Process exited with status ${status} from signal ${exitSignal ?? ""}`;
    }
    if (exitDesc) waitMsg += `. Reason was: ${exitDesc}`;
    if (status !== 0) {
      throw new RemoteCommandError(
        `${waitMsg}: running ${goQuote(cmd)}:\n${combined}`,
        "exit",
        status,
        stdout,
        stderr,
        combined,
        exitSignal,
      );
    }
    return {
      stdout: stdout.endsWith("\n") ? stdout.slice(0, -1) : stdout,
      stderr: stderr.endsWith("\n") ? stderr.slice(0, -1) : stderr,
      exitCode: 0,
      combined,
    };
  } finally {
    close();
  }
}
