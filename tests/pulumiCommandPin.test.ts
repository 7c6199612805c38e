/**
 * The e2e driver plays pulumi-command's provider by the rules of one release (PULUMI_COMMAND_VERSION). A lock
 * file refresh must not slip another release under it: package.json pins that version exactly, the lock file
 * holds it, and so does node_modules.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PULUMI_COMMAND_VERSION } from "./e2e/driver/engine";

const ROOT = path.join(__dirname, "..");
const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as T;

describe("@pulumi/command is the release the e2e driver's rules were written for", () => {
  it("installed: node_modules/@pulumi/command", () => {
    expect(readJson<{ version: string }>("node_modules/@pulumi/command/package.json").version).toBe(
      PULUMI_COMMAND_VERSION,
    );
  });

  it("pinned exactly in package.json, not a range", () => {
    const pkg = readJson<{ dependencies: Record<string, string> }>("package.json");
    expect(pkg.dependencies["@pulumi/command"]).toBe(PULUMI_COMMAND_VERSION);
  });

  it("locked: package-lock.json", () => {
    const lock = readJson<{ packages: Record<string, { version?: string }> }>("package-lock.json");
    expect(lock.packages["node_modules/@pulumi/command"]?.version).toBe(PULUMI_COMMAND_VERSION);
  });
});
