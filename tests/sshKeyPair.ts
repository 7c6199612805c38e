import { utils } from "ssh2";

/** The key types and options these tests make keys with. */
type KeyRequest = ["ed25519", { comment?: string }?] | ["rsa" | "ecdsa", { bits: number; comment?: string }];

/**
 * A key pair made for this test run, which ssh2 itself can read back.
 *
 * ssh2's `generateKeyPairSync("ed25519")` strips leading zero bytes off the
 * public key, so about one ed25519 pair in 256 comes out 31 bytes long and
 * unreadable (mscdex/ssh2#1390, #1513); such a pair is made again. Real keys
 * with a leading zero byte are fine: see tests/drift/hostKey.test.ts.
 */
export function sshKeyPair(...[type, options]: KeyRequest): { public: string; private: string } {
  for (;;) {
    // Two calls, as ssh2's typings give each key type its own options.
    const pair =
      type === "ed25519" ? utils.generateKeyPairSync(type, options) : utils.generateKeyPairSync(type, options);
    if (!(utils.parseKey(pair.public) instanceof Error) && !(utils.parseKey(pair.private) instanceof Error)) {
      return pair;
    }
  }
}
