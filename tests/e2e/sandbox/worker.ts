/**
 * Sandbox workers for the end-to-end tests: real systemd hosts reachable over
 * real SSH, booted with systemd-nspawn on this machine.
 *
 * - `ensureRoot()` builds (once per suite, cached, atomically, under a lock) a
 *   Debian root (trixie, or bullseye on request) with systemd, sshd, sudo,
 *   python3 + python3-h2 and two users:
 *   `ubuntu` (passwordless sudo, as on EC2's Ubuntu images) and `needspw`
 *   (sudo that asks for a password).
 * - `bootWorker()` boots a fresh worker from it in a few seconds: an overlayfs
 *   of its own (lower = cached root, upper = a per-worker directory), so
 *   nothing from an earlier boot leaks in; a hostname, an address on the
 *   harness's bridge, an SSH host key and the test key injected per boot.
 *
 * Network: one host bridge (`cwbr0`, `HOST_ADDRESS`/24); worker slot N gets
 * 10.200.0.(10+N). The workers have no route anywhere else and no DNS server.
 *
 * Needs root and the Debian packages debootstrap, systemd-container,
 * openssh-client, iproute2 (nsenter, mount: util-linux, always there).
 */
import * as childProcess from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { debianArchive } from "../aptSources";

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** Host bridge that every sandbox worker is plugged into. */
export const BRIDGE = "cwbr0";
/** The host's address on the bridge: where a test HTTP mirror should listen. */
export const HOST_ADDRESS = "10.200.0.1";
/** Prefix length of the bridge network. */
export const PREFIX_LENGTH = 24;
/** First slot number; slot N has address 10.200.0.(10+N). */
const FIRST_SLOT = 1;
const LAST_SLOT = 200;

/** Debian suites a worker root can be built from. */
export type Suite = "trixie" | "bullseye";
/** Debian suite of the worker root unless a boot asks for another. */
export const SUITE: Suite = "trixie";
/** Packages debootstrap puts into the trixie worker root (besides minbase). */
export const PACKAGES = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "openssh-server",
  "sudo",
  "ca-certificates",
  "curl",
  "iproute2",
  "tar",
  "gzip",
  "procps",
  "python3",
  "python3-h2",
  "kmod",
  // A static busybox to build a container rootfs from: workers have no registry to pull images from.
  "busybox-static",
  // Off unless a boot asks for it (BootOptions.cloudInit): a just-booted instance still running its user-data.
  "cloud-init",
  // Provides python3-cryptography's virtual dependencies, which debootstrap does not resolve.
  "python3-cffi-backend",
] as const;

/**
 * Per suite. Bullseye (glibc 2.31, systemd 247, OpenSSH 8.4) is the worker too old for binaries built against a
 * newer glibc; it goes without cloud-init (and the provider listed only for it), so cloudInit boots are trixie's.
 */
const SUITE_PACKAGES: Readonly<Record<Suite, readonly string[]>> = {
  trixie: PACKAGES,
  bullseye: PACKAGES.filter((p) => p !== "cloud-init" && p !== "python3-cffi-backend"),
};

/** The login user, as on EC2's Ubuntu images: passwordless sudo. */
export const USER = "ubuntu";
/** A second user whose sudo asks for a password (for "sudo wants a password"). */
export const NEEDSPW_USER = "needspw";

/** Bump when the way the root is customised changes: it selects a new cache entry. */
const ROOT_RECIPE_VERSION = 2;

/** What a worker booted with `cloudInit` has its user-data write once its delay has passed: `date +%s.%N`. */
export const CLOUD_INIT_MARKER = "/var/lib/cw-cloud-init-marker";

const SANDBOX_DIR = __dirname;
const BOOT_SCRIPT = path.join(SANDBOX_DIR, "nspawn-boot.sh");
const GUEST_DIR = path.join(SANDBOX_DIR, "guest");

/** PATH for every command the harness runs, on the host and in workers. */
const SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a program (no shell) and collects its output; never rejects on a non-zero exit. */
function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(file, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: opts.env ?? { PATH: SAFE_PATH, LANG: "C.UTF-8" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, opts.timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) stderr += `\n[harness] ${file} killed after ${opts.timeoutMs} ms`;
      resolve({
        code: code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr,
      });
    });
    child.stdin.on("error", () => {
      /* the program may exit without reading its input */
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Like run(), but throws with the output when the exit code is not 0. */
async function runOk(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${file} ${args.join(" ")} exited ${r.code}\n--- stdout ---\n${tail(r.stdout, 40)}\n--- stderr ---\n${tail(r.stderr, 40)}`,
    );
  }
  return r;
}

function tail(text: string, lines: number): string {
  const all = text.replace(/\s+$/, "").split("\n");
  return all.slice(-lines).join("\n");
}

function tailFile(file: string, lines: number): string {
  try {
    // The console log has terminal escapes; drop them to keep errors readable.
    const text = fs.readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    return tail(text, lines);
  } catch {
    return "(no output)";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether process `pid` exists (a lock whose owner has died is free to take). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function which(program: string): boolean {
  return SAFE_PATH.split(":").some((dir) => {
    try {
      fs.accessSync(path.join(dir, program), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const HOST_TOOLS: Record<string, string> = {
  debootstrap: "debootstrap",
  "systemd-nspawn": "systemd-container",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  ip: "iproute2",
  nsenter: "util-linux",
  mount: "mount",
};

function checkHost(tools: readonly string[]): void {
  if (process.getuid?.() !== 0) {
    throw new Error("sandbox workers need root (debootstrap, overlayfs mounts, systemd-nspawn)");
  }
  const missing = tools.filter((t) => !which(t));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => HOST_TOOLS[t] ?? t))];
    throw new Error(`missing host tools ${missing.join(", ")}: apt-get install -y ${pkgs.join(" ")}`);
  }
}

/** Removes a directory tree without ever crossing into another file system. */
async function removeTree(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  const mounts = mountsUnder(dir);
  if (mounts.length > 0) {
    throw new Error(`refusing to remove ${dir}: still mounted: ${mounts.join(", ")}`);
  }
  await runOk("rm", ["-rf", "--one-file-system", "--", dir]);
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const prefix = path.resolve(dir);
  const found: string[] = [];
  for (const line of fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp === undefined) continue;
    const decoded = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === prefix || decoded.startsWith(prefix + "/")) found.push(decoded);
  }
  return found.sort((a, b) => b.length - a.length);
}

async function unmountAllUnder(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const mounts = mountsUnder(dir);
    if (mounts.length === 0) return;
    for (const mp of mounts) {
      const r = await run("umount", [mp]);
      if (r.code !== 0 && attempt >= 10) await run("umount", ["-l", mp]);
    }
    await sleep(200);
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`could not unmount ${left.join(", ")}`);
}

// ---------------------------------------------------------------------------
// File locks (atomic link(2) of a file holding the owner's PID)
// ---------------------------------------------------------------------------

interface LockInfo {
  owner: number;
  extra: Record<string, string | number>;
}

function readLock(lockPath: string): LockInfo | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, "utf8")) as { owner?: unknown; extra?: unknown };
    if (typeof parsed.owner !== "number") return undefined;
    return { owner: parsed.owner, extra: (parsed.extra ?? {}) as Record<string, string | number> };
  } catch {
    return undefined;
  }
}

/** Takes the lock if free; returns false if a live process holds it. Never waits. */
function tryLock(lockPath: string, extra: Record<string, string | number> = {}): boolean {
  const tmp = `${lockPath}.${process.pid}.${crypto.randomBytes(4).toString("hex")}`;
  fs.writeFileSync(tmp, JSON.stringify({ owner: process.pid, extra }));
  try {
    fs.linkSync(tmp, lockPath);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function updateLock(lockPath: string, extra: Record<string, string | number>): void {
  const tmp = `${lockPath}.${process.pid}.upd`;
  fs.writeFileSync(tmp, JSON.stringify({ owner: process.pid, extra }));
  fs.renameSync(tmp, lockPath);
}

/** Waits up to `timeoutMs` for the lock, taking over one whose owner has died. */
export async function acquireLock(lockPath: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryLock(lockPath)) return;
    const info = readLock(lockPath);
    if (info === undefined) {
      // Unreadable: a writer is mid-write (cannot happen with link(2)) or garbage. Treat old garbage as stale.
      const age = Date.now() - (fs.statSync(lockPath, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age > 10_000) fs.rmSync(lockPath, { force: true });
    } else if (!pidAlive(info.owner)) {
      fs.rmSync(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (lock ${lockPath} held by PID ${info?.owner})`,
      );
    }
    await sleep(500);
  }
}

// ---------------------------------------------------------------------------
// Cache layout
// ---------------------------------------------------------------------------

/** Where roots, the test key and per-worker state live. */
export function cacheDir(): string {
  return process.env.E2E_CACHE_DIR ?? path.join(os.homedir(), ".cache", "containerd-worker-e2e");
}

function rootKey(suite: Suite): string {
  const recipe = JSON.stringify({
    v: ROOT_RECIPE_VERSION,
    suite,
    packages: SUITE_PACKAGES[suite],
    arch: process.arch,
  });
  return crypto.createHash("sha256").update(recipe).digest("hex").slice(0, 12);
}

// ---------------------------------------------------------------------------
// The Debian archive, from the machine's own apt sources
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// ensureRoot
// ---------------------------------------------------------------------------

export interface RootInfo {
  /** The cached root directory (never modify it: workers use it as an overlay lower layer). */
  dir: string;
  /** Password of `needspw` (its sudo asks for it). */
  needspwPassword: string;
}

interface RootOptions {
  /** Debian suite (default `SUITE`); each suite has a root of its own. */
  suite?: Suite;
  log?: (line: string) => void;
  timeoutMs?: number;
}

const rootPromises = new Map<Suite, Promise<RootInfo>>();

/**
 * Builds the worker root of a suite once (about a minute) and caches it under
 * `cacheDir()`; later calls return at once. Safe against concurrent builders
 * (lock) and interrupted builds (built in a temporary directory, renamed when
 * complete).
 */
export function ensureRoot(opts: RootOptions = {}): Promise<RootInfo> {
  const suite = opts.suite ?? SUITE;
  let promise = rootPromises.get(suite);
  if (promise === undefined) {
    promise = buildRootIfMissing(suite, opts).catch((e: unknown) => {
      rootPromises.delete(suite);
      throw e;
    });
    rootPromises.set(suite, promise);
  }
  return promise;
}

async function buildRootIfMissing(suite: Suite, opts: RootOptions): Promise<RootInfo> {
  const log = opts.log ?? (() => undefined);
  const packages = SUITE_PACKAGES[suite];
  const base = cacheDir();
  const key = rootKey(suite);
  const finalDir = path.join(base, `root-${key}`);
  const passwordFile = path.join(base, `root-${key}.needspw-password`);
  const stamp = path.join(finalDir, "etc", "cw-e2e-root");
  const done = (): RootInfo | undefined =>
    fs.existsSync(stamp) && fs.existsSync(passwordFile)
      ? { dir: finalDir, needspwPassword: fs.readFileSync(passwordFile, "utf8").trim() }
      : undefined;

  const cached = done();
  if (cached) return cached;

  checkHost(["debootstrap", "mount"]);
  fs.mkdirSync(base, { recursive: true, mode: 0o700 });
  const lockPath = path.join(base, `root-${key}.lock`);
  await acquireLock(lockPath, "another process building the worker root", opts.timeoutMs ?? 20 * 60_000);
  try {
    const again = done();
    if (again) return again;
    await removeStaleBuilds(base);
    if (fs.existsSync(finalDir)) await removeTree(finalDir); // a rename target without a stamp: never complete

    const buildDir = path.join(base, `build-${key}-${process.pid}`);
    const target = path.join(buildDir, "root");
    fs.mkdirSync(buildDir, { recursive: true });
    const archive = debianArchive().uri;
    const started = Date.now();
    log(`building ${suite} root in ${target} from the machine's Debian archive`);
    const debootstrapLog = path.join(buildDir, "debootstrap.log");
    const r = await run(
      "debootstrap",
      ["--variant=minbase", `--include=${packages.join(",")}`, suite, target, archive],
      { timeoutMs: 15 * 60_000 },
    );
    fs.writeFileSync(debootstrapLog, r.stdout + r.stderr);
    if (r.code !== 0) {
      await unmountAllUnder(buildDir);
      throw new Error(`debootstrap failed (exit ${r.code}); tail of its output:\n${tail(r.stdout + r.stderr, 30)}`);
    }
    await unmountAllUnder(buildDir); // debootstrap unmounts /proc etc. itself; be sure

    const needspwPassword = crypto.randomBytes(12).toString("base64url");
    await customiseRoot(target, needspwPassword, packages.includes("cloud-init"));
    fs.writeFileSync(passwordFile, needspwPassword + "\n", { mode: 0o600 });
    fs.writeFileSync(
      path.join(target, "etc", "cw-e2e-root"),
      JSON.stringify({ key, suite, packages, built: new Date().toISOString() }) + "\n",
    );
    fs.renameSync(target, finalDir);
    await removeTree(buildDir);
    log(`root built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { dir: finalDir, needspwPassword };
  } finally {
    fs.rmSync(lockPath, { force: true });
  }
}

/** Leftover build directories of processes that died mid-build (we hold the lock). */
async function removeStaleBuilds(base: string): Promise<void> {
  for (const name of fs.readdirSync(base)) {
    const m = /^build-[0-9a-f]+-(\d+)$/.exec(name);
    if (!m?.[1]) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    const dir = path.join(base, name);
    const users = processesUsing(dir);
    if (users.length > 0) continue; // e.g. an orphaned debootstrap still at work: leave it for a later run
    await unmountAllUnder(dir);
    await removeTree(dir);
  }
}

/** PIDs of processes whose root, working directory or command line lies in `dir`. */
function processesUsing(dir: string): number[] {
  const prefix = path.resolve(dir) + "/";
  const found: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const links = ["root", "cwd"].map((l) => fs.readlinkSync(`/proc/${entry}/${l}`) + "/");
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (links.some((l) => l.startsWith(prefix)) || argv.some((a) => (a + "/").startsWith(prefix))) {
        found.push(Number(entry));
      }
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return found;
}

async function chroot(root: string, args: string[], input?: string): Promise<void> {
  await runOk("chroot", [root, ...args], { input });
}

async function customiseRoot(root: string, needspwPassword: string, cloudInit: boolean): Promise<void> {
  const etc = (...p: string[]) => path.join(root, "etc", ...p);
  // Users: login shell /bin/bash, home directories, as on EC2's images.
  await chroot(root, ["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", USER]);
  await chroot(root, ["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", NEEDSPW_USER]);
  await chroot(root, ["chpasswd"], `${NEEDSPW_USER}:${needspwPassword}\n`);
  // ubuntu: locked password (key login only) like EC2; needspw: a password, so sudo can ask for it.
  fs.writeFileSync(etc("sudoers.d", "90-cloud-init-users"), `${USER} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
  fs.writeFileSync(etc("sudoers.d", "91-needspw"), `${NEEDSPW_USER} ALL=(ALL:ALL) ALL\n`, { mode: 0o440 });
  await chroot(root, ["visudo", "-c", "-q"]);

  fs.mkdirSync(etc("ssh", "sshd_config.d"), { recursive: true });
  fs.writeFileSync(
    etc("ssh", "sshd_config.d", "10-sandbox.conf"),
    ["PasswordAuthentication no", "KbdInteractiveAuthentication no", "PermitRootLogin no", "UseDNS no", ""].join("\n"),
  );
  // Host keys are made per boot (each worker its own); none in the shared root.
  for (const f of fs.readdirSync(etc("ssh"))) {
    if (f.startsWith("ssh_host_")) fs.rmSync(etc("ssh", f));
  }
  // Per-boot identity: systemd makes a transient machine ID from nspawn's UUID.
  fs.writeFileSync(etc("machine-id"), "");
  fs.rmSync(path.join(root, "var", "lib", "dbus", "machine-id"), { force: true });
  fs.writeFileSync(etc("hostname"), "sandbox\n");
  // No DNS server: nothing in a worker may talk to anything but the bridge.
  fs.rmSync(etc("resolv.conf"), { force: true });
  fs.writeFileSync(etc("resolv.conf"), "# sandbox worker: no DNS server\noptions timeout:1 attempts:1\n");
  if (cloudInit) {
    // cloud-init stays off (its generator honours this file) unless a boot removes it. When on, it reads only
    // the NoCloud seed a boot writes, leaves the network, the host keys and the users alone, and runs the
    // seed's runcmd: real init, config and final stages, nothing else.
    fs.writeFileSync(etc("cloud", "cloud-init.disabled"), "");
    fs.writeFileSync(
      etc("cloud", "cloud.cfg.d", "90-sandbox.cfg"),
      [
        "datasource_list: [NoCloud]",
        "network: {config: disabled}",
        "ssh_deletekeys: false",
        "ssh_genkeytypes: []",
        "cloud_init_modules: []",
        "cloud_config_modules: [runcmd]",
        "cloud_final_modules: [scripts_user, final_message]",
        "",
      ].join("\n"),
    );
  }
  // The archive's package lists and downloaded .deb files are of no use offline.
  await runOk("find", [path.join(root, "var", "cache", "apt"), "-name", "*.deb", "-delete"]);
  await runOk("find", [path.join(root, "var", "lib", "apt", "lists"), "-type", "f", "-delete"]);
}

// ---------------------------------------------------------------------------
// SSH key and bridge
// ---------------------------------------------------------------------------

export interface TestKey {
  privateKeyPath: string;
  privateKey: string;
  publicKey: string;
}

let keyPromise: Promise<TestKey> | undefined;

/** The test SSH key: ed25519, no passphrase, generated at run time into the cache dir. */
export function testKey(): Promise<TestKey> {
  keyPromise ??= makeTestKey().catch((e: unknown) => {
    keyPromise = undefined;
    throw e;
  });
  return keyPromise;
}

async function makeTestKey(): Promise<TestKey> {
  const dir = path.join(cacheDir(), "ssh");
  const keyPath = path.join(dir, "id_ed25519");
  if (!fs.existsSync(keyPath) || !fs.existsSync(`${keyPath}.pub`)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmpDir = fs.mkdtempSync(path.join(dir, "tmp-"));
    try {
      const tmpKey = path.join(tmpDir, "id_ed25519");
      await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "containerd-worker-e2e", "-f", tmpKey]);
      // Public half first: a present private key means a complete pair.
      if (!fs.existsSync(keyPath)) {
        fs.renameSync(`${tmpKey}.pub`, `${keyPath}.pub`);
        fs.renameSync(tmpKey, keyPath);
      }
    } finally {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
  }
  return {
    privateKeyPath: keyPath,
    privateKey: fs.readFileSync(keyPath, "utf8"),
    publicKey: fs.readFileSync(`${keyPath}.pub`, "utf8").trim(),
  };
}

/** Creates the host bridge with HOST_ADDRESS if missing (idempotent, race-safe). */
export async function ensureBridge(): Promise<void> {
  checkHost(["ip"]);
  if ((await run("ip", ["link", "show", "dev", BRIDGE])).code !== 0) {
    const r = await run("ip", ["link", "add", BRIDGE, "type", "bridge"]);
    if (r.code !== 0 && !/File exists/.test(r.stderr)) {
      throw new Error(`cannot create bridge ${BRIDGE}: ${r.stderr.trim()}`);
    }
  }
  const v6 = `/proc/sys/net/ipv6/conf/${BRIDGE}/disable_ipv6`;
  if (fs.existsSync(v6)) fs.writeFileSync(v6, "1");
  await runOk("ip", ["addr", "replace", `${HOST_ADDRESS}/${PREFIX_LENGTH}`, "dev", BRIDGE]);
  await runOk("ip", ["link", "set", BRIDGE, "up"]);
}

// ---------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------

export interface BootOptions {
  /** Hostname of the worker (default `worker-N` for slot N). */
  hostname?: string;
  /**
   * Debian suite of the worker (default `SUITE`, trixie). `bullseye` has glibc 2.31: a worker too old for
   * binaries built against a newer one. Its root is built (once) on the first such boot.
   */
  suite?: Suite;
  /**
   * Delay the start of ssh.service by this many seconds (an ExecStartPre
   * sleep), for readiness tests: the worker boots, its address answers, but
   * SSH refuses connections until then. Use with `waitFor: "started"`.
   */
  sshDelaySeconds?: number;
  /**
   * What bootWorker waits for before it returns:
   * - "ready" (default): systemd inside is `running`/`degraded` and sshd accepts the test key;
   * - "started": the worker's systemd is PID 1 in its container (call `waitReady()` later).
   */
  waitFor?: "ready" | "started";
  /**
   * Turn cloud-init on for this boot, with a NoCloud seed whose user-data
   * sleeps `runcmdSeconds` and then writes `CLOUD_INIT_MARKER`: until then
   * `cloud-init status` says `running`. Other workers boot with it off.
   */
  cloudInit?: { runcmdSeconds: number };
  /**
   * Let sshd accept logins only from this address (`AllowUsers *@ADDRESS`):
   * a worker in a "private subnet", reachable only through a bastion at that
   * address. The host's own SSH to it is refused, so `waitReady` checks sshd
   * from inside the worker instead.
   */
  sshOnlyFrom?: string;
  /** Bound on the wait (default 120 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface SshOptions {
  user?: string;
  input?: string | Buffer;
  timeoutMs?: number;
}

export interface Worker {
  /** Hostname of the worker. */
  readonly name: string;
  /** systemd-nspawn's machine name (also the cgroup and veth name suffix). */
  readonly machine: string;
  /** The worker's address on the bridge. */
  readonly host: string;
  readonly port: 22;
  readonly user: "ubuntu";
  /** OpenSSH private key text for `user` (and `needspw`). */
  readonly privateKey: string;
  readonly privateKeyPath: string;
  /** The worker's SSH host public key (`ssh-ed25519 AAAA...`), made for this boot. */
  readonly hostPublicKey: string;
  /** known_hosts file naming this worker's host key. */
  readonly knownHostsPath: string;
  /** PID of this worker's systemd-nspawn process (the process the harness started). */
  readonly pid: number;
  /** nspawn's console output (the worker's boot messages). */
  readonly consoleLogPath: string;
  /** Password of `needspw`. */
  readonly needspwPassword: string;
  /** PID (on the host) of the worker's systemd, PID 1 inside. */
  leaderPid(): number;
  /** Runs `cmd` with bash as root inside the worker (nsenter; does not need sshd). */
  exec(cmd: string, opts?: { input?: string | Buffer; timeoutMs?: number }): Promise<ExecResult>;
  /** Runs `cmd` over real SSH as `opts.user` (default ubuntu) with the test key. */
  ssh(cmd: string, opts?: SshOptions): Promise<ExecResult>;
  /** Waits until systemd is running/degraded and sshd accepts the key. */
  waitReady(timeoutMs?: number): Promise<void>;
  /**
   * Caps the worker's CPU time at `cpus` CPUs (e.g. 0.5): every process in it shares one CFS quota, as
   * on a machine of that size. Workers booted on this host otherwise share all of its CPUs.
   */
  limitCpu(cpus: number): void;
  /** CPU time used by every process in the worker since it booted (its cgroup's own count), in milliseconds. */
  cpuTimeMs(): number;
  /** True until the nspawn process has exited. */
  isRunning(): boolean;
  /** Powers the worker off (SIGTERM to nspawn, SIGKILL after a timeout) and removes everything it made. */
  stop(): Promise<void>;
}

/** Address of slot N. */
export function slotAddress(slot: number): string {
  return `10.200.0.${10 + slot}`;
}

function workersDir(): string {
  return path.join(cacheDir(), "workers");
}

/**
 * Slot locks are machine-wide (the bridge, the addresses and the machine
 * names are), whatever cache directory a process uses.
 */
function slotLockDir(): string {
  return "/run/containerd-worker-e2e";
}

interface SlotState {
  slot: number;
  machine: string;
  dir: string;
  lockPath: string;
}

function slotState(slot: number, dir = path.join(workersDir(), `w${slot}`)): SlotState {
  return {
    slot,
    machine: `cww${slot}`,
    dir,
    lockPath: path.join(slotLockDir(), `slot-${slot}.lock`),
  };
}

/** Is `pid` a systemd-nspawn for `machine` (guards against PID reuse)? */
function isOurNspawn(pid: number, machine: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return (
      argv.some((a) => a.endsWith("systemd-nspawn") || a.endsWith("nspawn-boot.sh")) &&
      argv.includes(`--machine=${machine}`)
    );
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The container's PID 1 as seen from the host: nspawn's child in another PID namespace running systemd. */
function findLeader(nspawnPid: number): number | undefined {
  let ownPidNs: string;
  try {
    ownPidNs = fs.readlinkSync("/proc/self/ns/pid");
  } catch {
    return undefined;
  }
  for (const c of childrenOf(nspawnPid)) {
    try {
      const comm = fs.readFileSync(`/proc/${c}/comm`, "utf8").trim();
      if (comm === "systemd" && fs.readlinkSync(`/proc/${c}/ns/pid`) !== ownPidNs) return c;
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** Removes the cgroups nspawn-boot.sh made (deepest first); they empty once the worker is gone. */
async function removeCgroups(dir: string): Promise<void> {
  const listFile = path.join(dir, "cgroups");
  if (!fs.existsSync(listFile)) return;
  const roots = fs
    .readFileSync(listFile, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("/sys/fs/cgroup/"));
  for (const root of roots) {
    for (let attempt = 0; ; attempt++) {
      const dirs: string[] = [];
      const walk = (d: string) => {
        let entries: fs.Dirent[];
        try {
          entries = fs.readdirSync(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
        dirs.push(d);
      };
      walk(root);
      let failed: string | undefined;
      for (const d of dirs) {
        try {
          fs.rmdirSync(d);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") failed = `${d}: ${(e as Error).message}`;
        }
      }
      if (failed === undefined) break;
      if (attempt >= 50) throw new Error(`cannot remove cgroup ${failed}`);
      await sleep(200);
    }
  }
  fs.rmSync(listFile, { force: true });
}

/** Removes what a (dead) worker left in its slot: mounts, cgroups, its directory. */
async function cleanSlot(s: SlotState): Promise<void> {
  await unmountAllUnder(s.dir);
  await removeCgroups(s.dir);
  await removeTree(s.dir);
  // nspawn leaves this directory behind when /run is not a tmpfs.
  fs.rmSync(`/run/systemd/nspawn/propagate/${s.machine}`, { recursive: true, force: true });
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/s.test(stat);
  } catch {
    return false;
  }
}

async function waitExit(pid: number, exited: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited() || !running(pid)) return true;
    await sleep(100);
  }
  return exited() || !running(pid);
}

/**
 * Frees a slot whose owner process died: stops a worker an earlier, crashed
 * test run left running (only the nspawn PID recorded in that slot's lock,
 * and only if it still is that machine's nspawn), then cleans the slot.
 * One process at a time reclaims a slot (a second lock); others skip it.
 */
async function reclaimStaleSlot(slot: number): Promise<void> {
  const lockPath = slotState(slot).lockPath;
  const info = readLock(lockPath);
  if (info === undefined || pidAlive(info.owner)) return;
  const reclaimLock = `${lockPath}.reclaim`;
  if (!tryLock(reclaimLock)) {
    const holder = readLock(reclaimLock);
    if (holder !== undefined && pidAlive(holder.owner)) return;
    fs.rmSync(reclaimLock, { force: true });
    if (!tryLock(reclaimLock)) return;
  }
  try {
    const again = readLock(lockPath);
    if (again === undefined || again.owner !== info.owner) return; // someone else already did it
    const recordedDir = again.extra.dir;
    const s = slotState(
      slot,
      typeof recordedDir === "string" && recordedDir.endsWith(`/w${slot}`) ? recordedDir : undefined,
    );
    const nspawnPid = Number(again.extra.nspawnPid ?? 0);
    if (nspawnPid > 0 && isOurNspawn(nspawnPid, s.machine)) {
      const leader = findLeader(nspawnPid);
      process.kill(nspawnPid, "SIGTERM");
      if (!(await waitExit(nspawnPid, () => false, 30_000))) {
        if (leader !== undefined) process.kill(leader, "SIGKILL");
        process.kill(nspawnPid, "SIGKILL");
        await waitExit(nspawnPid, () => false, 10_000);
      }
    }
    await cleanSlot(s);
    fs.rmSync(lockPath, { force: true });
  } finally {
    fs.rmSync(reclaimLock, { force: true });
  }
}

/** Does anything on this machine already use this machine name (its veth, or a live nspawn)? */
function machineInUse(machine: string): boolean {
  if (fs.existsSync(`/sys/class/net/vb-${machine}`)) return true;
  for (const entry of fs.readdirSync("/proc")) {
    if (/^\d+$/.test(entry) && isOurNspawn(Number(entry), machine)) return true;
  }
  return false;
}

async function claimSlot(): Promise<SlotState> {
  fs.mkdirSync(workersDir(), { recursive: true, mode: 0o700 });
  fs.mkdirSync(slotLockDir(), { recursive: true, mode: 0o700 });
  for (let slot = FIRST_SLOT; slot <= LAST_SLOT; slot++) {
    const s = slotState(slot);
    if (fs.existsSync(s.lockPath)) await reclaimStaleSlot(slot);
    if (tryLock(s.lockPath, { dir: s.dir, machine: s.machine })) {
      if (machineInUse(s.machine)) {
        // Not ours, yet running (a harness of another version, or by hand): leave it alone.
        fs.rmSync(s.lockPath, { force: true });
        continue;
      }
      await cleanSlot(s); // whatever an earlier crashed owner left in our directory
      return s;
    }
  }
  throw new Error(`all sandbox worker slots ${FIRST_SLOT}-${LAST_SLOT} are taken`);
}

const liveWorkers = new Set<{ pid: number; leader: () => number | undefined; merged: string }>();
let exitHookInstalled = false;

/** If the test process exits without stop(), do not leave workers running (best effort, synchronous). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const w of liveWorkers) {
      const leader = w.leader();
      try {
        if (leader !== undefined) process.kill(leader, "SIGKILL");
        process.kill(w.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
      childProcess.spawnSync("umount", ["-l", w.merged], { stdio: "ignore" });
    }
  });
}

function writeFile(file: string, content: string, mode = 0o644, uid = 0, gid = 0): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  fs.chownSync(file, uid, gid);
}

function lookupUser(root: string, user: string): { uid: number; gid: number; home: string } {
  for (const line of fs.readFileSync(path.join(root, "etc", "passwd"), "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f[2] !== undefined && f[3] !== undefined && f[5] !== undefined) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
    }
  }
  throw new Error(`user ${user} not in the worker root`);
}

const NET_UNIT = `[Unit]
Description=Sandbox worker address on the harness bridge
DefaultDependencies=no
After=local-fs.target
Before=network-pre.target network.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=/etc/cw-worker/net.env
ExecStart=/usr/local/lib/cw-worker/cw-net-up.sh

[Install]
WantedBy=multi-user.target
`;

const CGROUP_UNIT = `[Unit]
Description=Writable cgroup v1 controllers for container runtimes
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/cw-worker/cw-cgroup-rw.sh

[Install]
WantedBy=sysinit.target
`;

/** Writes the per-boot identity and the harness's units into the worker's overlay. */
async function prepareWorkerFs(opts: {
  root: RootInfo;
  merged: string;
  dir: string;
  hostname: string;
  address: string;
  key: TestKey;
  sshDelaySeconds?: number;
  cloudInit?: BootOptions["cloudInit"];
  sshOnlyFrom?: string;
}): Promise<{ hostPublicKey: string; knownHostsPath: string }> {
  const m = (...p: string[]) => path.join(opts.merged, ...p);
  writeFile(m("etc", "hostname"), `${opts.hostname}\n`);
  writeFile(
    m("etc", "hosts"),
    [
      "127.0.0.1\tlocalhost",
      `127.0.1.1\t${opts.hostname}`,
      "::1\t\tlocalhost ip6-localhost ip6-loopback",
      "ff02::1\t\tip6-allnodes",
      "ff02::2\t\tip6-allrouters",
      "",
    ].join("\n"),
  );
  writeFile(m("etc", "cw-worker", "net.env"), `CW_IFACE=host0\nCW_ADDRESS=${opts.address}/${PREFIX_LENGTH}\n`);

  // Harness units and their scripts.
  for (const script of ["cw-net-up.sh", "cw-cgroup-rw.sh"]) {
    writeFile(
      m("usr", "local", "lib", "cw-worker", script),
      fs.readFileSync(path.join(GUEST_DIR, script), "utf8"),
      0o755,
    );
  }
  const units: [string, string, string][] = [
    ["cw-net.service", NET_UNIT, "multi-user.target.wants"],
    ["cw-cgroup-rw.service", CGROUP_UNIT, "sysinit.target.wants"],
  ];
  for (const [name, text, wants] of units) {
    writeFile(m("etc", "systemd", "system", name), text);
    fs.mkdirSync(m("etc", "systemd", "system", wants), { recursive: true });
    fs.symlinkSync(`/etc/systemd/system/${name}`, m("etc", "systemd", "system", wants, name));
  }
  // Units that ignore SIGTERM (a container's PID 1 does) must not hold up poweroff for 90 s.
  writeFile(m("etc", "systemd", "system.conf.d", "cw-sandbox.conf"), "[Manager]\nDefaultTimeoutStopSec=5s\n");
  if (opts.sshDelaySeconds !== undefined && opts.sshDelaySeconds > 0) {
    const s = Math.ceil(opts.sshDelaySeconds);
    writeFile(
      m("etc", "systemd", "system", "ssh.service.d", "cw-delay.conf"),
      `[Service]\nExecStartPre=/bin/sleep ${s}\nTimeoutStartSec=${s + 90}\n`,
    );
  }
  if (opts.cloudInit !== undefined) {
    fs.rmSync(m("etc", "cloud", "cloud-init.disabled"));
    const seed = (...p: string[]) => m("var", "lib", "cloud", "seed", "nocloud", ...p);
    // A new instance-id per boot: cloud-init runs its per-instance stages as on a fresh instance.
    writeFile(
      seed("meta-data"),
      `instance-id: ${path.basename(opts.dir)}-${crypto.randomUUID()}\nlocal-hostname: ${opts.hostname}\n`,
    );
    const seconds = Math.ceil(opts.cloudInit.runcmdSeconds);
    writeFile(
      seed("user-data"),
      `#cloud-config\nruncmd:\n  - [sh, -c, "sleep ${seconds} && date +%s.%N > ${CLOUD_INIT_MARKER}"]\n`,
    );
  }
  if (opts.sshOnlyFrom !== undefined) {
    writeFile(m("etc", "ssh", "sshd_config.d", "20-only-from.conf"), `AllowUsers *@${opts.sshOnlyFrom}\n`);
  }

  // A host key for this boot only, and a known_hosts line for it.
  const hostKeyPath = path.join(opts.dir, "ssh_host_ed25519_key");
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${opts.hostname}`, "-f", hostKeyPath]);
  const hostPublicKey = fs.readFileSync(`${hostKeyPath}.pub`, "utf8").trim();
  writeFile(m("etc", "ssh", "ssh_host_ed25519_key"), fs.readFileSync(hostKeyPath, "utf8"), 0o600);
  writeFile(m("etc", "ssh", "ssh_host_ed25519_key.pub"), hostPublicKey + "\n", 0o644);
  const knownHostsPath = path.join(opts.dir, "known_hosts");
  const hostKeyFields = hostPublicKey.split(" ").slice(0, 2).join(" ");
  fs.writeFileSync(knownHostsPath, `${opts.address} ${hostKeyFields}\n`);

  // The test key for both users.
  for (const user of [USER, NEEDSPW_USER]) {
    const u = lookupUser(opts.root.dir, user);
    const sshDir = path.join(opts.merged, u.home, ".ssh");
    fs.mkdirSync(sshDir, { recursive: true });
    fs.chmodSync(sshDir, 0o700);
    fs.chownSync(sshDir, u.uid, u.gid);
    writeFile(path.join(sshDir, "authorized_keys"), opts.key.publicKey + "\n", 0o600, u.uid, u.gid);
  }
  return { hostPublicKey, knownHostsPath };
}

/**
 * Boots a fresh sandbox worker. Builds the root first if needed (about a
 * minute, once). See BootOptions for what it waits for.
 */
export async function bootWorker(opts: BootOptions = {}): Promise<Worker> {
  checkHost(["systemd-nspawn", "ssh", "ssh-keygen", "ip", "nsenter", "mount"]);
  const log = opts.log ?? (() => undefined);
  const suite = opts.suite ?? SUITE;
  if (opts.cloudInit !== undefined && !SUITE_PACKAGES[suite].includes("cloud-init")) {
    throw new Error(`a ${suite} worker has no cloud-init: cloudInit boots need ${SUITE}`);
  }
  const root = await ensureRoot({ log, suite });
  const key = await testKey();
  await ensureBridge();

  const s = await claimSlot();
  const hostname = opts.hostname ?? `worker-${s.slot}`;
  const address = slotAddress(s.slot);
  const upper = path.join(s.dir, "upper");
  const work = path.join(s.dir, "work");
  const merged = path.join(s.dir, "merged");
  const containerdDir = path.join(s.dir, "containerd");
  const consoleLogPath = path.join(s.dir, "console.log");
  let stopWorker: (() => Promise<void>) | undefined;
  try {
    for (const d of [upper, work, merged, containerdDir]) fs.mkdirSync(d, { recursive: true });
    fs.chmodSync(s.dir, 0o700);
    await runOk("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${root.dir},upperdir=${upper},workdir=${work}`,
      merged,
    ]);
    const ids = await prepareWorkerFs({
      root,
      merged,
      dir: s.dir,
      hostname,
      address,
      key,
      sshDelaySeconds: opts.sshDelaySeconds,
      cloudInit: opts.cloudInit,
      sshOnlyFrom: opts.sshOnlyFrom,
    });

    const nspawnArgs = [
      `--directory=${merged}`,
      "--boot",
      "--register=no",
      "--keep-unit",
      `--machine=${s.machine}`,
      `--hostname=${hostname}`,
      `--network-bridge=${BRIDGE}`,
      "--resolv-conf=off",
      "--timezone=off",
      "--link-journal=no",
      "--console=read-only",
      // runc creates a session keyring (keyctl/add_key) and loads device-cgroup
      // BPF programs; nspawn's default seccomp filter forbids both.
      "--system-call-filter=add_key keyctl request_key bpf",
      // containerd's overlayfs snapshotter needs a real file system (the root is an overlay).
      `--bind=${containerdDir}:/var/lib/containerd`,
      "--setenv=SYSTEMD_COLORS=0",
    ];
    const logFd = fs.openSync(consoleLogPath, "a");
    const child = childProcess.spawn("/bin/bash", [BOOT_SCRIPT, s.machine, s.dir, "--", ...nspawnArgs], {
      detached: true, // setsid: its own session, no terminal
      stdio: ["ignore", logFd, logFd],
      env: { PATH: SAFE_PATH, LANG: "C.UTF-8" },
    });
    fs.closeSync(logFd);
    child.on("error", (e) => log(`${s.machine}: ${e.message}`));
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${BOOT_SCRIPT}`);
    let exitedFlag = false;
    let exitStatus = "";
    const exited = new Promise<void>((resolve) => {
      child.on("exit", (code, signal) => {
        exitedFlag = true;
        exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
    child.unref();
    updateLock(s.lockPath, { dir: s.dir, machine: s.machine, nspawnPid: pid });

    let leader: number | undefined;
    const getLeader = () => {
      if (leader === undefined || !pidAlive(leader)) leader = exitedFlag ? undefined : findLeader(pid);
      return leader;
    };
    const liveEntry = { pid, leader: getLeader, merged };
    liveWorkers.add(liveEntry);
    installExitHook();

    const failure = (what: string) =>
      new Error(
        `sandbox worker ${s.machine} (${address}, nspawn PID ${pid}) ${what}\n` +
          `--- tail of nspawn output (${consoleLogPath}) ---\n${tailFile(consoleLogPath, 40)}`,
      );

    const limitCpu = (cpus: number): void => {
      const period = 100_000;
      const quota = Math.round(cpus * period);
      const dirs = fs.readFileSync(path.join(s.dir, "cgroups"), "utf8").split("\n").filter(Boolean);
      const v1 = dirs.find((d) => fs.existsSync(path.join(d, "cpu.cfs_quota_us")));
      const v2 = dirs.find((d) => fs.existsSync(path.join(d, "cpu.max")));
      if (v1 !== undefined) {
        fs.writeFileSync(path.join(v1, "cpu.cfs_period_us"), String(period));
        fs.writeFileSync(path.join(v1, "cpu.cfs_quota_us"), String(quota));
      } else if (v2 !== undefined) {
        fs.writeFileSync(path.join(v2, "cpu.max"), `${quota} ${period}`);
      } else {
        throw new Error(`${s.machine}: none of its cgroups has a CPU controller to limit`);
      }
    };

    const cpuTimeMs = (): number => {
      const dirs = fs.readFileSync(path.join(s.dir, "cgroups"), "utf8").split("\n").filter(Boolean);
      const v1 = dirs.find((d) => fs.existsSync(path.join(d, "cpuacct.usage")));
      if (v1 !== undefined) return Number(fs.readFileSync(path.join(v1, "cpuacct.usage"), "utf8")) / 1e6;
      const v2 = dirs.find((d) => fs.existsSync(path.join(d, "cpu.stat")));
      const usec =
        v2 === undefined ? undefined : /^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(v2, "cpu.stat"), "utf8"));
      if (usec?.[1] === undefined) throw new Error(`${s.machine}: none of its cgroups counts CPU time`);
      return Number(usec[1]) / 1e3;
    };

    const nsenterArgs = (l: number) => ["-t", String(l), "-m", "-u", "-i", "-n", "-p", "-C", "--"];
    const exec = async (cmd: string, o: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<ExecResult> => {
      const l = getLeader();
      if (l === undefined) throw failure(exitedFlag ? `is not running (${exitStatus})` : "has no systemd yet");
      return run(
        "nsenter",
        [
          ...nsenterArgs(l),
          "/usr/bin/env",
          "-i",
          `PATH=${SAFE_PATH}`,
          "HOME=/root",
          "LANG=C.UTF-8",
          "/bin/bash",
          "-c",
          cmd,
        ],
        { input: o.input, timeoutMs: o.timeoutMs ?? 300_000 },
      );
    };
    const ssh = (cmd: string, o: SshOptions = {}): Promise<ExecResult> =>
      run(
        "ssh",
        [
          "-F",
          "/dev/null",
          "-i",
          key.privateKeyPath,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "IdentityAgent=none",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          `UserKnownHostsFile=${ids.knownHostsPath}`,
          "-o",
          "ConnectTimeout=5",
          "-o",
          "LogLevel=ERROR",
          "-p",
          "22",
          `${o.user ?? USER}@${address}`,
          "--",
          cmd,
        ],
        { input: o.input, timeoutMs: o.timeoutMs ?? 300_000 },
      );

    const waitStarted = async (deadline: number) => {
      while (getLeader() === undefined) {
        if (exitedFlag) throw failure(`exited during boot (${exitStatus})`);
        if (Date.now() > deadline) throw failure("did not start systemd in time");
        await sleep(100);
      }
    };
    const waitReady = async (timeoutMs = opts.timeoutMs ?? 120_000) => {
      const deadline = Date.now() + timeoutMs;
      await waitStarted(deadline);
      let state = "";
      for (;;) {
        if (exitedFlag) throw failure(`exited during boot (${exitStatus})`);
        state =
          (await exec("systemctl is-system-running", { timeoutMs: 10_000 }).catch(() => undefined))?.stdout.trim() ??
          "";
        if (state === "running" || state === "degraded") break;
        if (Date.now() > deadline) throw failure(`timed out after ${timeoutMs} ms: systemd is "${state}"`);
        await sleep(250);
      }
      // A worker that refuses the host's logins is ready once its sshd runs.
      const probe = () =>
        opts.sshOnlyFrom === undefined
          ? ssh("true", { timeoutMs: 15_000 })
          : exec("systemctl is-active --quiet ssh.service", { timeoutMs: 10_000 });
      let last: ExecResult | undefined;
      for (;;) {
        last = await probe();
        if (last.code === 0) break;
        if (exitedFlag) throw failure(`exited during boot (${exitStatus})`);
        if (Date.now() > deadline) {
          throw failure(`timed out after ${timeoutMs} ms: sshd does not accept the test key: ${last.stderr.trim()}`);
        }
        await sleep(250);
      }
      if (state === "degraded") {
        const failed = await exec("systemctl --failed --no-legend --plain");
        log(`${s.machine}: systemd is degraded: ${failed.stdout.trim()}`);
      }
    };

    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        if (!exitedFlag) {
          const l = getLeader();
          try {
            process.kill(pid, "SIGTERM"); // nspawn asks the worker's systemd to power off
          } catch {
            /* gone */
          }
          if (!(await waitExit(pid, () => exitedFlag, 30_000))) {
            log(`${s.machine}: no clean poweroff in 30 s, killing`);
            try {
              if (l !== undefined) process.kill(l, "SIGKILL"); // ends the worker's PID namespace
              process.kill(pid, "SIGKILL");
            } catch {
              /* gone */
            }
            await Promise.race([exited, sleep(10_000)]);
          }
          await Promise.race([exited, sleep(2_000)]); // let Node reap it
        }
        liveWorkers.delete(liveEntry);
        await cleanSlot(s);
        fs.rmSync(s.lockPath, { force: true });
      })();
      return stopped;
    };
    stopWorker = stop;

    const worker: Worker = {
      name: hostname,
      machine: s.machine,
      host: address,
      port: 22,
      user: USER,
      privateKey: key.privateKey,
      privateKeyPath: key.privateKeyPath,
      hostPublicKey: ids.hostPublicKey,
      knownHostsPath: ids.knownHostsPath,
      pid,
      consoleLogPath,
      needspwPassword: root.needspwPassword,
      leaderPid: () => {
        const l = getLeader();
        if (l === undefined) throw failure("has no systemd running");
        return l;
      },
      exec,
      ssh,
      waitReady,
      limitCpu,
      cpuTimeMs,
      isRunning: () => !exitedFlag,
      stop,
    };

    const started = Date.now();
    if ((opts.waitFor ?? "ready") === "ready") await waitReady();
    else await waitStarted(Date.now() + (opts.timeoutMs ?? 120_000));
    log(`${s.machine} (${hostname}, ${address}) up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return worker;
  } catch (e) {
    // Keep the boot output of a failed boot for a post-mortem; the slot is removed below.
    if (fs.existsSync(consoleLogPath))
      fs.copyFileSync(consoleLogPath, path.join(workersDir(), `${s.machine}-failed-console.log`));
    if (stopWorker) {
      await stopWorker().catch(() => undefined);
    } else {
      await cleanSlot(s).catch(() => undefined);
      fs.rmSync(s.lockPath, { force: true });
    }
    throw e;
  }
}
