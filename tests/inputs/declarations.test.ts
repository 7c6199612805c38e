/**
 * Issue 11: each argument is declared once, in components/inputs/declarations.ts. The args' doc comments
 * state the defaults it applies, every argument and output has a doc comment, and the files
 * `npm run docs:config` writes from it (Pulumi.yaml's keys, the docs' argument reference) are committed
 * as it writes them.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ArgumentName, DECLARATIONS, defaultText } from "../../components/inputs/declarations";
import { generatedFiles } from "../../tools/configReference";

const ROOT = path.resolve(__dirname, "..", "..");

interface Documented {
  name: string;
  doc: string;
  /** The `@default` tag's text, when there is one. */
  defaultTag?: string;
}

/** The properties of the named interfaces (or class) in a .ts file, with their doc comments. */
function documentedMembers(file: string, names: string[]): Documented[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const members: Documented[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && names.includes(node.name?.text ?? "")) {
      for (const member of node.members) {
        if (!ts.isPropertySignature(member) && !ts.isPropertyDeclaration(member)) continue;
        const docs = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc);
        const tag = docs.flatMap((doc) => [...(doc.tags ?? [])]).find((t) => t.tagName.text === "default");
        members.push({
          name: member.name.getText(source),
          doc: docs.map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? "").join("\n"),
          defaultTag: tag === undefined ? undefined : (ts.getTextOfJSDocComment(tag.comment) ?? "").trim(),
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return members;
}

const ARGS = documentedMembers("components/args/containerdWorkerArgs.ts", [
  "ContainerdWorkerArgs",
  "WorkerOptionsInput",
]);

describe("the args' doc comments", () => {
  it("name exactly the declared arguments", () => {
    expect(ARGS.map((a) => a.name).sort()).toEqual(Object.keys(DECLARATIONS).sort());
  });

  it.each(ARGS.map((a) => [a.name, a] as const))("%s has a doc comment with the declared @default", (name, arg) => {
    const declaration = DECLARATIONS[name as ArgumentName];
    expect(arg.doc.trim().length, `${name} has no doc comment`).toBeGreaterThan(20);
    if (declaration.required) {
      expect(arg.defaultTag, `${name} is required: it has no @default`).toBeUndefined();
      expect(arg.doc).toMatch(/Required\./);
    } else {
      expect(arg.defaultTag, `${name}: @default disagrees with inputs/declarations.ts`).toBe(defaultText(declaration));
      // The provider's schema drops doc tags: the default must be in the text other languages read too.
      const stated =
        defaultText(declaration) === "none" ? "Default: none." : `Default: \`${defaultText(declaration)}\`.`;
      expect(arg.doc, `${name}: its text does not state the default`).toContain(stated);
    }
  });
});

describe("the component's outputs", () => {
  it.each(documentedMembers("components/containerdWorker.ts", ["ContainerdWorker"]).map((o) => [o.name, o] as const))(
    "%s has a doc comment",
    (_name, output) => {
      expect(output.doc.trim().length).toBeGreaterThan(10);
    },
  );
});

describe("npm run docs:config", () => {
  it("writes each file as it is committed", async () => {
    for (const [file, text] of Object.entries(await generatedFiles())) {
      expect(readFileSync(path.join(ROOT, file), "utf8"), `${file}: run \`npm run docs:config\``).toBe(text);
    }
  });

  it("keeps Pulumi.yaml a project file: each config key with a description, typed keys with their default", () => {
    const project = parse(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { type?: string; description?: string; default?: unknown }>;
    };
    for (const [name, declaration] of Object.entries(DECLARATIONS)) {
      for (const key of declaration.config ?? []) {
        const entry = project.config[key.key];
        expect(entry?.description, key.key).toBeTruthy();
        expect(entry?.type, key.key).toBe(key.type);
        if (key.field === undefined && key.type !== undefined && typeof declaration.default !== "object") {
          expect(entry?.default, `${key.key} (sets ${name})`).toBe(declaration.default);
        }
      }
    }
  });
});
