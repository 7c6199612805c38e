import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  ADOPTED_DIR,
  MACHINE_ARCH,
  PATHS,
  RUNTIME_SOCKET,
  VERIFIED_CONFIG_FILE,
  VERIFIED_PLAN_FILE,
} from "../../components/catalog/catalog";
import { adoptedCopies, manifestFile } from "../../components/catalog/records";
import { resolveOptions } from "../../components/inputs/options";
import { planWorker } from "../../components/plan/workerPlan";
import { piece, regionsOf, regionsTaken, ScriptFile, SCRIPTS_DIR } from "../../components/worker/scriptFiles";
import { PURGED_STATE_DIRS, STOP_GRACE_SECONDS } from "../../components/worker/scripts";

const FILES = fs
  .readdirSync(SCRIPTS_DIR)
  .filter((name) => name.endsWith(".sh"))
  .sort() as ScriptFile[];
const text = (file: ScriptFile) => fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8");

describe("the script files", () => {
  it("are there", () => {
    expect(FILES).toContain("lib.sh");
    expect(FILES.length).toBeGreaterThan(5);
  });

  it.each(FILES)("%s passes shellcheck as bash, no exclusions beyond its own header", (file) => {
    const result = spawnSync("shellcheck", ["--severity", "style", path.join(SCRIPTS_DIR, file)], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  it("hold no region that no script takes: every piece of every file reaches a worker", () => {
    // Plans that take every choice: pinned and fetched checksums, each packaging and self-check, both
    // containerd builds, purged and kept state.
    for (const input of [{}, { staticBuild: true, purgeStateOnDestroy: true, checksums: { crictl: "a".repeat(64) } }]) {
      planWorker("worker-0", resolveOptions(input));
    }
    const regions = FILES.flatMap((file) => [...regionsOf(file).keys()].map((region) => `${file}#${region}`));
    expect(regions.filter((region) => !regionsTaken().has(region))).toEqual([]);
  });

  it("spell the catalog's paths and constants as the catalog has them", () => {
    const spelled: [ScriptFile, string][] = [
      ["lib.sh", `mkdir -p '${PATHS.manifestDir}'`],
      ["lib.sh", `install -d -m 0700 '${ADOPTED_DIR}'`],
      ["lib.sh", `rmdir -- '${ADOPTED_DIR}'`],
      ["lib.sh", `to_adopt "$1" "$2" '${PATHS.containerdUnit}'`],
      ["lib.sh", `[[ ! -f '${manifestFile("unit")}' ]]`],
      ["lib.sh", `stale "$pid" '${PATHS.containerdBinDir}/containerd' '${PATHS.containerdConfig}'`],
      ["lib.sh", `mkdir -p ${PATHS.manifestDir}\n`],
      ["lib.sh", `rmdir --ignore-fail-on-non-empty ${PATHS.manifestDir} `],
      ["unit.sh", `adopt_unit '${adoptedCopies("unit")}' '${manifestFile("unit")}'`],
      ["unit.sh", `owns '${manifestFile("unit")}' '${PATHS.containerdUnit}'`],
      ["unit.sh", `rm -f -- ${PATHS.containerdUnit}\n`],
      ["unit.sh", `give_back_unit '${adoptedCopies("unit")}' '${manifestFile("unit")}'`],
      ...Object.entries(MACHINE_ARCH).map(([machine, arch]): [ScriptFile, string] => [
        "ready.sh",
        `  ${machine}) arch=${arch} ;;`,
      ]),
      ["ready.sh", `(supported: ${Object.keys(MACHINE_ARCH).join(", ")})`],
      ["reset.sh", `ctr=${PATHS.containerdBinDir}/ctr crictl=${PATHS.crictlBinDir}/crictl runc=${PATHS.runcBinary}\n`],
      ["reset.sh", `waited < ${STOP_GRACE_SECONDS};`],
      ["reset.sh", `for root in ${PATHS.containerdState}/runc/*/; do`],
      ["reset.sh", `*' -address ${RUNTIME_SOCKET} '*`],
      ["reset.sh", `-v a='${PATHS.containerdState}/' -v b='${PATHS.containerdRoot}/'`],
      ["reset.sh", `for dir in ${PURGED_STATE_DIRS.join(" ")}; do`],
      ["reset.sh", `removed ${PURGED_STATE_DIRS.join(", ")}"`],
      ["reset.sh", `kept ${PURGED_STATE_DIRS.join(", ")}"`],
      ["restart.sh", `place '${VERIFIED_CONFIG_FILE}' '${PATHS.containerdConfig}' 0644`],
      ["restart.sh", `with the new ${PATHS.containerdConfig},`],
      ["restart.sh", `nor with the ${PATHS.containerdConfig} it last ran with`],
      ["verify.sh", `crictl=${PATHS.crictlBinDir}/crictl\n`],
      ["verify.sh", `${PATHS.containerdBinDir}/containerd config dump`],
      ["verify.sh", `>${VERIFIED_PLAN_FILE}\n`],
      ["verify.sh", `place '${PATHS.containerdConfig}' '${VERIFIED_CONFIG_FILE}' 0644`],
      ["verify.sh", `rm -f -- '${VERIFIED_PLAN_FILE}' '${VERIFIED_CONFIG_FILE}'`],
      ["verify.sh", `rmdir --ignore-fail-on-non-empty '${PATHS.manifestDir}'`],
      ["verify.sh", `removed ${VERIFIED_PLAN_FILE}, ${VERIFIED_CONFIG_FILE}"`],
    ];
    for (const [file, words] of spelled) expect(text(file), `${file}: ${words}`).toContain(words);
  });
});

describe("a piece's places", () => {
  it("take a quoted place as quoted words, and a bare one as a plain token", () => {
    expect(piece("lib.sh", "adopt-file", { keep: "/k", record: "/r", path: "/a b/it's" })).toBe(
      `adopt '/k' '/r' '/a b/it'\\''s'`,
    );
    expect(piece("lib.sh", "record-generation", { generation: 3, generation_file: "/g" })).toBe("echo 3 >/g");
  });

  it("refuse what would change a script's meaning, a missing value and an unused one", () => {
    expect(() => piece("lib.sh", "record-generation", { generation: "3; rm -rf /", generation_file: "/g" })).toThrow(
      /takes a plain token/,
    );
    expect(() => piece("lib.sh", "adopt-file", { keep: "/k", record: "/r", path: "a\nb" })).toThrow(
      /control character/,
    );
    expect(() => piece("lib.sh", "record-generation", { generation: 3 })).toThrow(/no value for @generation_file@/);
    expect(() => piece("lib.sh", "work", { extra: "x" })).toThrow(/no place for extra/);
    expect(() => piece("lib.sh", "nowhere")).toThrow(/no region nowhere/);
  });

  it("drop the reader's lines: the header, ## notes, blank lines; a nested region loses its indentation", () => {
    expect(piece("lib.sh", "work")).toBe(`work=$(mktemp -d -t containerd-worker.XXXXXX)\ntrap 'rm -rf "$work"' EXIT`);
    expect(piece("lib.sh", "write", { mode: "0600" }).split("\n")[0]).toBe(
      'if [[ -f $target ]] && cmp -s "$work/content" "$target"; then',
    );
    expect(piece("lib.sh", "write", { mode: "0600" }, 2).split("\n")[0]).toMatch(/^ {2}if /);
  });
});
