// A throwaway OpenSSH server on 127.0.0.1 for the driver's tests: host key and client key generated at run
// time into a temp dir, key-only root login, AcceptEnv limited to the names given. Stop it with stop().

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as net from "node:net";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  privateKey: string;
  /** The host public key, authorized_keys format (for `connection.hostKey`). */
  hostPublicKey: string;
  dir: string;
  pid: number;
  /** What sshd logged (-e). */
  log(): string;
  stop(): Promise<void>;
}

export interface TestSshdOptions {
  /** Names for sshd's AcceptEnv (nothing else is accepted). */
  acceptEnv?: string[];
  sshdPath?: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startSshd(opts: TestSshdOptions = {}): Promise<TestSshd> {
  const sshd = opts.sshdPath ?? "/usr/sbin/sshd";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "driver-sshd-"));
  const hostKey = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  fs.copyFileSync(`${clientKey}.pub`, path.join(dir, "authorized_keys"));
  // sshd refuses to start without its privilege separation directory.
  if (!fs.existsSync("/run/sshd")) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const config = [
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKey}`,
    "PidFile none",
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "AllowTcpForwarding yes",
    "MaxStartups 200",
    "MaxSessions 50",
    "LogLevel VERBOSE",
    ...(opts.acceptEnv && opts.acceptEnv.length > 0 ? [`AcceptEnv ${opts.acceptEnv.join(" ")}`] : []),
    "",
  ].join("\n");
  const configFile = path.join(dir, "sshd_config");
  fs.writeFileSync(configFile, config);

  let lastErr = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(sshd, ["-D", "-e", "-f", configFile, "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    child.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (/Server listening on 127\.0\.0\.1 port/.test(log)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stderr?.on("data", check);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!up || child.pid === undefined) {
      lastErr = log;
      if (child.exitCode === null) child.kill("SIGTERM");
      continue;
    }
    const pid = child.pid;
    return {
      host: "127.0.0.1",
      port,
      user: "root",
      privateKey: fs.readFileSync(clientKey, "utf8"),
      hostPublicKey: fs.readFileSync(`${hostKey}.pub`, "utf8").trim(),
      dir,
      pid,
      log: () => log,
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        process.kill(pid, "SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGKILL");
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  throw new Error(`sshd did not start: ${lastErr}`);
}
