/**
 * Parses what the ready step printed (see `readyScript`): the worker's
 * architecture as release artifacts name it, and its kernel.
 */
import { Arch, ARCHES } from "../catalog/catalog";

export interface ReadyReport {
  arch: Arch;
  /** `uname -r`. */
  kernel: string;
}

export function parseReadyReport(stdout: string): ReadyReport {
  const value = (key: string): string | undefined => new RegExp(`^${key}=(.*)$`, "m").exec(stdout)?.[1]?.trim();
  const arch = value("arch");
  if (arch === undefined || !(ARCHES as readonly string[]).includes(arch)) {
    throw new Error(`the ready step reported no supported arch (${ARCHES.join(", ")}): ${JSON.stringify(stdout)}`);
  }
  return { arch: arch as Arch, kernel: value("kernel") ?? "" };
}
