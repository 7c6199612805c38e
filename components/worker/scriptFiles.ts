/**
 * The bash of every step's script, read from the `.sh` files in `scripts/` beside this module: the one
 * place that reads them (they ship next to the compiled JavaScript).
 *
 * A file is bash that an editor and shellcheck read as it is. What a script takes of it are regions:
 *
 *     ## region NAME
 *     ...lines...
 *     ## endregion
 *
 * Regions may nest (an inner one is also part of the outer); a region's lines lose the indentation they
 * all share, so a block nested in an `if` serves unindented too. Lines that start with `##`, `# shellcheck`
 * directives and blank lines are for the file's reader: never sent. Outside regions only comments stand.
 *
 * A region may have places a value fills, `@name@`:
 * - `'@name@'`, a whole single-quoted word: the value as quoted words (`quotedWords`, the quoting of
 *   `assignments`), any text without a control character, a list giving one word per item.
 * - `@name@` elsewhere: the value as it is, which must be a plain token (letters, digits, `._/-`) that
 *   means the same quoted or not: a step id, a catalog path, a version, a number.
 *
 * Free text from the user (URLs, settings, names) reaches a script only through `assignments`: a place
 * takes catalog words, step ids, numbers and validated versions.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { RenderCache } from "../render/renderCache";
import { quotedWords, ShellValue } from "./shell";

/** The folder of the script files. */
export const SCRIPTS_DIR = path.join(__dirname, "scripts");

/** The script files, by name. */
export type ScriptFile =
  | "lib.sh"
  | "ready.sh"
  | "install.sh"
  | "file.sh"
  | "proxy.sh"
  | "registries.sh"
  | "unit.sh"
  | "restart.sh"
  | "verify.sh"
  | "reset.sh";

const TOKEN = /^[A-Za-z0-9._/-]+$/;
const PLACE = /'@([a-z_]+)@'|@([a-z_]+)@/g;

const parsed = new Map<ScriptFile, ReadonlyMap<string, readonly string[]>>();
const taken = new Set<string>();

/** Every `file#region` a script has taken so far: what the test that no region is dead reads. */
export function regionsTaken(): ReadonlySet<string> {
  return taken;
}

/** Every region of a file, by name: its lines as a script takes them. */
export function regionsOf(file: ScriptFile): ReadonlyMap<string, readonly string[]> {
  const known = parsed.get(file);
  if (known) return known;
  const text = fs.readFileSync(path.join(SCRIPTS_DIR, file), "utf8");
  const regions = new Map<string, string[]>();
  const open: string[] = [];
  for (const [index, line] of text.replace(/\n$/, "").split("\n").entries()) {
    const at = `${file}:${index + 1}`;
    const trimmed = line.trim();
    const start = /^## region ([a-z0-9-]+)$/.exec(trimmed);
    if (start?.[1]) {
      if (regions.has(start[1])) throw new Error(`${at}: region ${start[1]} again`);
      regions.set(start[1], []);
      open.push(start[1]);
    } else if (trimmed === "## endregion") {
      if (open.pop() === undefined) throw new Error(`${at}: endregion outside a region`);
    } else if (trimmed === "" || trimmed.startsWith("##") || trimmed.startsWith("# shellcheck ")) {
      continue;
    } else if (open.length === 0) {
      if (!trimmed.startsWith("#")) throw new Error(`${at}: a line outside any region`);
    } else {
      for (const name of open) regions.get(name)?.push(line);
    }
  }
  if (open.length > 0) throw new Error(`${file}: region ${open.join(", ")} not ended`);
  for (const [name, lines] of regions) {
    const indent = Math.min(...lines.map((line) => /^ */.exec(line)?.[0].length ?? 0));
    regions.set(
      name,
      lines.map((line) => line.slice(indent)),
    );
  }
  parsed.set(file, regions);
  return regions;
}

/**
 * A region of a script file with its places filled by `values` (each used, each place given one), its
 * lines indented by `indent` spaces.
 */
export function piece(
  file: ScriptFile,
  region: string,
  values: Readonly<Record<string, ShellValue>> = {},
  indent = 0,
): string {
  taken.add(`${file}#${region}`);
  // A fleet's workers take the same pieces with the same values: each is filled once.
  return filled.get([file, region, indent, values], () => fillPiece(file, region, values, indent));
}

/** Pieces filled so far, by file, region, indent and values. */
const filled = new RenderCache<string>(4096);

function fillPiece(
  file: ScriptFile,
  region: string,
  values: Readonly<Record<string, ShellValue>>,
  indent: number,
): string {
  const lines = regionsOf(file).get(region);
  if (lines === undefined) throw new Error(`${file} has no region ${region}`);
  const unused = new Set(Object.keys(values));
  const fill = (name: string, quoted: boolean): string => {
    const value = values[name];
    if (value === undefined) throw new Error(`${file} ${region}: no value for @${name}@`);
    unused.delete(name);
    if (quoted) return quotedWords(name, value);
    const text = String(value);
    if (!TOKEN.test(text)) throw new Error(`${file} ${region}: @${name}@ takes a plain token, not ${text}`);
    return text;
  };
  const text = lines
    .map(
      (line) =>
        " ".repeat(indent) +
        line.replace(PLACE, (_, quoted?: string, bare?: string) =>
          fill((quoted ?? bare) as string, quoted !== undefined),
        ),
    )
    .join("\n");
  if (unused.size > 0) throw new Error(`${file} ${region}: no place for ${[...unused].join(", ")}`);
  return text;
}
