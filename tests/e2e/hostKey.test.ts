/**
 * Host key pinning (issue 10): with `hostKeys` / `bastionHostKey` set, the
 * drift probe trusts exactly the keys the steps trust. A wrong pin refuses the
 * read, named by worker in a warning; the worker's real key lets it read.
 */
import { sshKeyPair } from "../sshKeyPair";
import { beforeAll, describe, expect, it } from "vitest";
import { fingerprint } from "../../components/drift/hostKey";
import { DeploymentResult } from "./driver";
import { expectOk } from "./lab";
import { useLab } from "./fixture";
import type { Worker } from "./sandbox/worker";

const lab = useLab({ workers: 2 });
let first: Worker;
let second: Worker;
/** Each worker's real host key, as its sshd presents it. */
const realKeys: string[] = [];
/** A key no worker has, made for this run. */
const wrongKey = sshKeyPair("ed25519", { comment: "not-the-worker" }).public;

const blobOf = (line: string) => Buffer.from(line.split(" ")[1] ?? "", "base64");
const readWarnings = (result: DeploymentResult) =>
  result.warnings.filter((w) => /cannot read|host drift|host key/.test(w));

beforeAll(async () => {
  [first, second] = lab.workers as [Worker, Worker];
  for (const index of [0, 1]) {
    realKeys.push((await lab.onWorker("cat /etc/ssh/ssh_host_ed25519_key.pub", index)).trim());
  }
  // Installed with both real keys pinned: the steps accept them.
  expectOk(await lab.up({ hostKeys: JSON.stringify({ [first.name]: realKeys[0], [second.name]: realKeys[1] }) }));
  await lab.onWorker("echo '# edited by hand' >> /etc/containerd/config.toml", 0);
});

describe("a pinned worker host key", () => {
  it("a wrong pin: the probe refuses the worker, names it in a warning, and reads the others", async () => {
    const result = expectOk(
      await lab.preview({ hostKeys: JSON.stringify({ [first.name]: wrongKey, [second.name]: realKeys[1] }) }),
    );
    const warnings = readWarnings(result);
    expect(warnings).toEqual([
      `worker ${first.name}: cannot read ${first.host} to check for host drift ` +
        `(the worker's host key did not match its pinned hostKey: it presented ${fingerprint(blobOf(realKeys[0] ?? ""))}, ` +
        `the pin is ${fingerprint(blobOf(wrongKey))}); its steps are planned from the stack alone`,
    ]);
    // The hand edit on the refused worker is not seen, and nothing private is printed.
    expect(result.log).not.toMatch(/PRIVATE KEY/);
  });

  it("the worker's real key: the probe reads it and sees the hand edit", async () => {
    const result = expectOk(await lab.preview({ hostKeys: JSON.stringify({ [first.name]: realKeys[0] }) }));
    expect(readWarnings(result)).toEqual([
      expect.stringContaining(`host drift on worker ${first.name}, step config: /etc/containerd/config.toml changed`),
    ]);
  });
});

describe("a pinned bastion host key", () => {
  const viaBastion = (bastionHostKey: string) => ({
    hosts: JSON.stringify([`${second.name}=${second.user}@${second.host}`]),
    bastion: `${first.user}@${first.host}`,
    bastionHostKey,
    hostKeys: JSON.stringify({ [second.name]: realKeys[1] }),
  });

  it("a wrong pin: the probe refuses the bastion hop, named for the worker behind it", async () => {
    const result = expectOk(await lab.preview(viaBastion(wrongKey)));
    expect(readWarnings(result)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^worker ${second.name}: cannot read ${second.host} to check for host drift ` +
            `\\(the bastion's host key did not match its pinned hostKey: it presented SHA256:`,
        ),
      ),
    ]);
  });

  it("the bastion's real key: the probe reads the worker through it", async () => {
    const result = expectOk(await lab.preview(viaBastion(realKeys[0] ?? "")));
    expect(readWarnings(result)).toEqual([]);
    // Read, not skipped: the worker's sshd took a login from the bastion during the preview.
    const logins = await lab.onWorker("journalctl -u ssh.service --no-pager | grep 'Accepted publickey' || true", 1);
    expect(logins).toContain(` from ${first.host} `);
  });
});
