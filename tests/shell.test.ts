import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { rootCommand, SCRIPT_DELIMITER, script, scriptHeader, shellQuote } from "../components/shell";

function sh(command: string, options: { input?: string; asUser?: string } = {}) {
  const argv = options.asUser
    ? ["runuser", ["-u", options.asUser, "--", "sh", "-c", command]]
    : ["sh", ["-c", command]];
  const result = spawnSync(argv[0] as string, argv[1] as string[], { input: options.input ?? "", encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("shellQuote", () => {
  it.each(["plain", "", "it's", "a b\tc", "$(rm -rf /)", "`x`", '"q"', "back\\slash", "new\nline", "'''"])(
    "%j reaches the shell as one word, unchanged",
    (value) => {
      expect(sh(`printf %s ${shellQuote(value)}`).stdout).toBe(value);
    },
  );
});

describe("rootCommand", () => {
  const label = { worker: "worker-0", step: "config" };
  const body = script(scriptHeader(label), 'printf "uid=%s stdin=%s" "$(id -u)" "$(cat)"');

  it("runs the script with bash as root and passes stdin through", () => {
    expect(process.getuid?.()).toBe(0);
    const result = sh(rootCommand(label, body), { input: "file content" });
    expect(result).toMatchObject({ code: 0, stdout: "uid=0 stdin=file content" });
  });

  it("fails at once, naming worker, step and user, when sudo would ask for a password", () => {
    const result = sh(rootCommand(label, body), { asUser: "nobody" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "containerd-worker: worker worker-0, step config: user nobody cannot run sudo without a password",
    );
    expect(result.stdout).toBe("");
  });

  it("fail() names worker and step", () => {
    const result = sh(rootCommand(label, script(scriptHeader(label), 'fail "disk full"')));
    expect(result).toMatchObject({ code: 1, stderr: "containerd-worker: worker worker-0, step config: disk full\n" });
  });

  it("refuses a script that would end its here-document early", () => {
    expect(() => rootCommand(label, `echo\n${SCRIPT_DELIMITER}\necho`)).toThrow(/delimiter/);
  });
});
