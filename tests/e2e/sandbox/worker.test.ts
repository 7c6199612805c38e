import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootWorker, ensureRoot, HOST_ADDRESS, NEEDSPW_USER, type Worker } from "./worker";

const log = (line: string) => console.log(`[sandbox] ${line}`);

function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

describe("sandbox worker", () => {
  let worker: Worker | undefined;

  beforeAll(async () => {
    await ensureRoot({ log }); // about a minute the first time, then cached
    worker = await bootWorker({ log });
  });

  afterAll(async () => {
    await worker?.stop();
  });

  it("runs systemd as PID 1 and reaches running", async () => {
    const w = worker!;
    const r = await w.exec("systemctl is-system-running; cat /proc/1/comm; hostname");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")).toEqual(["running", "systemd", w.name, ""]);
  });

  it("has python3 with h2 (for the test CRI client) and reaches the host's bridge address", async () => {
    const w = worker!;
    const py = await w.exec("python3 -c 'import h2, sys; print(sys.version_info[0])'");
    expect(py.stdout, py.stderr).toBe("3\n");
    const server = http.createServer((_req, res) => res.end("from-the-host\n"));
    await new Promise<void>((resolve) => server.listen(0, HOST_ADDRESS, resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await w.ssh(`curl -sS --max-time 5 http://${HOST_ADDRESS}:${port}/`);
      expect(r.stdout, r.stderr).toBe("from-the-host\n");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // No route anywhere else.
    const routes = await w.exec("ip -4 route show");
    expect(routes.stdout).not.toMatch(/default/);
  });

  it("has cloud-init installed but off unless a boot asks for it", async () => {
    const r = await worker!.exec("cloud-init status; systemctl is-active cloud-final.service || true");
    expect(r.stdout).toBe("status: disabled\ninactive\n");
  });

  it("accepts the test key over real SSH as ubuntu, who has passwordless sudo", async () => {
    const w = worker!;
    expect(w.port).toBe(22);
    expect(w.user).toBe("ubuntu");
    expect(w.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    const r = await w.ssh('id -un; getent passwd "$(id -un)" | cut -d: -f7; sudo -n true && echo sudo-ok');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("ubuntu\n/bin/bash\nsudo-ok\n");
    // 127.0.1.1 <hostname> in /etc/hosts: sudo must not complain about resolving the host.
    expect(r.stderr).not.toMatch(/unable to resolve host/);
  });

  it("has a user whose sudo asks for a password", async () => {
    const w = worker!;
    const r = await w.ssh("sudo -n true", { user: NEEDSPW_USER });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/a password is required/);
    // ...and the password it asks for works.
    const ok = await w.ssh("sudo -S -p '' true && echo sudo-with-password-ok", {
      user: NEEDSPW_USER,
      input: `${w.needspwPassword}\n`,
    });
    expect(ok.stdout, ok.stderr).toBe("sudo-with-password-ok\n");
  });

  it("cpuTimeMs counts what the worker's processes use; limitCpu caps it for all of them together", async () => {
    const w = worker!;
    // Two busy loops started over SSH (so in the worker's cgroup), for two seconds: the CPUs they got, on average.
    const burn = async (): Promise<number> => {
      const before = w.cpuTimeMs();
      const r = await w.ssh("timeout 2 sh -c 'while :; do :; done' & timeout 2 sh -c 'while :; do :; done' & wait");
      expect(r.code, r.stderr).toBe(0);
      return (w.cpuTimeMs() - before) / 2000;
    };
    expect(await burn()).toBeGreaterThan(1);
    w.limitCpu(0.5);
    expect(await burn()).toBeLessThan(0.6);
  });

  it("stops by its nspawn PID and leaves nothing behind; the next boot starts fresh", async () => {
    const w = worker!;
    await w.exec("echo leaked > /etc/leak-check && mkdir -p /usr/local/bin && touch /usr/local/bin/containerd");
    const pid = w.pid;
    const logPath = w.consoleLogPath;
    expect(pidGone(pid)).toBe(false);
    await w.stop();
    worker = undefined;
    expect(w.isRunning()).toBe(false);
    expect(pidGone(pid)).toBe(true);
    expect(fs.existsSync(logPath)).toBe(false);

    const again = await bootWorker({ log });
    worker = again;
    const r = await again.exec("test -e /etc/leak-check || test -e /usr/local/bin/containerd; echo $?");
    expect(r.stdout.trim()).toBe("1");
  });
});

describe("sandbox worker with a late sshd", () => {
  it("boots with sshd refusing connections until sshDelaySeconds have passed", async () => {
    const w = await bootWorker({ sshDelaySeconds: 6, waitFor: "started", log });
    try {
      const started = Date.now();
      expect(w.isRunning()).toBe(true);
      expect(w.leaderPid()).toBeGreaterThan(1);
      // Wait for the worker's address to be up (the unit that sets it runs before ssh.service).
      let addr = "";
      while (!addr.includes(w.host) && Date.now() - started < 20_000) {
        addr = (await w.exec("ip -4 -o addr show host0")).stdout;
      }
      expect(addr).toContain(w.host);
      const early = await w.ssh("true", { timeoutMs: 10_000 });
      expect(early.code).not.toBe(0);
      expect(early.stderr).toMatch(/Connection refused/);
      await w.waitReady(60_000);
      expect(Date.now() - started).toBeGreaterThan(3_000);
      const late = await w.ssh("echo up");
      expect(late.stdout).toBe("up\n");
    } finally {
      await w.stop();
    }
    expect(w.isRunning()).toBe(false);
  });
});

describe("sandbox worker on Debian bullseye", () => {
  it("boots systemd 247 with glibc 2.31, the same users, sudo and SSH", async () => {
    const w = await bootWorker({ suite: "bullseye", log }); // builds its root once, about a minute
    try {
      const r = await w.exec(
        "systemctl is-system-running; cat /etc/debian_version | cut -d. -f1; getconf GNU_LIBC_VERSION; python3 -c 'import h2'",
      );
      expect(r.stdout, r.stderr).toBe("running\n11\nglibc 2.31\n");
      const ssh = await w.ssh("id -un; sudo -n true && echo sudo-ok");
      expect(ssh.stdout, ssh.stderr).toBe("ubuntu\nsudo-ok\n");
      const needspw = await w.ssh("sudo -n true", { user: NEEDSPW_USER });
      expect(needspw.stderr).toMatch(/a password is required/);
    } finally {
      await w.stop();
    }
  });

  it("refuses a cloudInit boot: its root has no cloud-init", async () => {
    await expect(bootWorker({ suite: "bullseye", cloudInit: { runcmdSeconds: 1 } })).rejects.toThrow(
      /bullseye worker has no cloud-init/,
    );
  });
});
