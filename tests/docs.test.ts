import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

// Every relative link in README.md, docs/*.md, the package's README and CHANGELOG and the example's README must
// name a file that exists and, with a #fragment, a heading of it.

const ROOT = path.resolve(__dirname, "..");

function markdownFiles(): string[] {
  const docs = path.join(ROOT, "docs");
  const pages = existsSync(docs)
    ? readdirSync(docs)
        .filter((f) => f.endsWith(".md"))
        .map((f) => path.join(docs, f))
    : [];
  return [
    path.join(ROOT, "README.md"),
    path.join(ROOT, "components", "README.md"),
    path.join(ROOT, "components", "CHANGELOG.md"),
    path.join(ROOT, "examples", "typescript", "README.md"),
    ...pages,
  ];
}

/** The text outside fenced code blocks, one entry per line (code lines become empty, so line numbers hold). */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  return text.split("\n").map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m) {
      const marker = m[1] ?? "";
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      return "";
    }
    return fence === undefined ? line : "";
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function headingSlugs(text: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const plain = (m[1] ?? "")
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text only
      .replace(/<[^>]+>/g, "");
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

/** Inline links `[text](target)` outside code: the target, without a title. */
function links(text: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  proseLines(text).forEach((line, i) => {
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ line: i + 1, target: m[1] ?? "" });
    }
  });
  return found;
}

describe("README and docs links", () => {
  it("parses GitHub's heading anchors", () => {
    expect([
      ...headingSlugs(
        "# Drift in `pulumi preview`\n## Steps (children)\n## Destroy\n## Destroy\n```\n# not a heading\n```",
      ),
    ]).toEqual(["drift-in-pulumi-preview", "steps-children", "destroy", "destroy-1"]);
    expect([...headingSlugs("### Extra containerd settings (`containerdSettings`)")]).toEqual([
      "extra-containerd-settings-containerdsettings",
    ]);
  });

  it.each(markdownFiles().map((f) => [path.relative(ROOT, f), f]))(
    "%s: every relative link names an existing file and heading",
    (_name, file) => {
      const broken: string[] = [];
      for (const { line, target } of links(readFileSync(file, "utf8"))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
        const hash = target.indexOf("#");
        const filePart = hash < 0 ? target : target.slice(0, hash);
        const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const dest = filePart === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(filePart));
        if (!existsSync(dest)) {
          broken.push(`line ${line}: ${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && !headingSlugs(readFileSync(dest, "utf8")).has(anchor)) {
          broken.push(`line ${line}: ${target}: no heading #${anchor} in ${path.relative(ROOT, dest)}`);
        }
      }
      expect(broken).toEqual([]);
    },
  );
});
