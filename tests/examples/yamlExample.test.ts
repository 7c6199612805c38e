/**
 * examples/yaml/Pulumi.yaml against components/schema.json: its package is the plugin directory, every resource's
 * type is the provider's, and every property (nested ones too) is one the schema has, of its type, with the
 * required ones present; every `${resource.output}` it reads is an output of that resource.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = path.join(__dirname, "..", "..");
const EXAMPLE_DIR = path.join(ROOT, "examples", "yaml");
const SCHEMA_JSON = path.join(ROOT, "components", "schema.json");

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  additionalProperties?: Property;
  enum?: { value: unknown }[];
  properties?: Record<string, Property>;
  required?: string[];
}
interface Schema {
  name: string;
  resources: Record<
    string,
    { inputProperties: Record<string, Property>; requiredInputs?: string[]; properties: object }
  >;
  types: Record<string, Property>;
}
interface Project {
  runtime: string;
  packages: Record<string, string>;
  config: Record<string, unknown>;
  resources: Record<string, { type: string; properties?: Record<string, unknown> }>;
  outputs: Record<string, unknown>;
}

const schema = JSON.parse(fs.readFileSync(SCHEMA_JSON, "utf8")) as Schema;
const project = parse(fs.readFileSync(path.join(EXAMPLE_DIR, "Pulumi.yaml"), "utf8")) as Project;

/** A whole-value interpolation (`${worker-0.urn}`, `${sshPrivateKey}`): its type is known only at run time. */
const isInterpolation = (value: unknown) => typeof value === "string" && /^\$\{[^}]+\}$/.test(value);

/** What is wrong with `value` as `spec`, each problem with its path; [] when it fits. */
function problems(value: unknown, spec: Property, at: string): string[] {
  if (isInterpolation(value)) return [];
  if (spec.$ref === "pulumi.json#/Any") return [];
  if (spec.$ref !== undefined) {
    const name = spec.$ref.replace(/^#\/types\//, "");
    const type = schema.types[name];
    if (type === undefined) return [`${at}: ${spec.$ref} is not in the schema`];
    return problems(value, type, at);
  }
  if (spec.enum !== undefined) {
    const allowed = spec.enum.map((member) => member.value);
    return allowed.includes(value) ? [] : [`${at}: ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`];
  }
  switch (spec.type) {
    case "string":
    case "number":
    case "boolean":
      return typeof value === spec.type ? [] : [`${at}: ${JSON.stringify(value)} is not a ${spec.type}`];
    case "array":
      if (!Array.isArray(value)) return [`${at}: not a list`];
      return value.flatMap((item, index) => problems(item, spec.items ?? {}, `${at}[${index}]`));
    case "object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${at}: not an object`];
      if (spec.properties !== undefined) return objectProblems(value, spec.properties, spec.required, at);
      return Object.entries(value).flatMap(([key, item]) =>
        problems(item, spec.additionalProperties ?? {}, `${at}.${key}`),
      );
    default:
      return [`${at}: the schema gives no type`];
  }
}

function objectProblems(
  value: object,
  properties: Record<string, Property>,
  required: string[] | undefined,
  at: string,
): string[] {
  const unknown = Object.keys(value)
    .filter((key) => !(key in properties))
    .map((key) => `${at}.${key}: no such property`);
  const missing = (required ?? []).filter((key) => !(key in value)).map((key) => `${at}.${key}: required`);
  const wrong = Object.entries(value).flatMap(([key, item]) =>
    key in properties ? problems(item, properties[key] ?? {}, `${at}.${key}`) : [],
  );
  return [...unknown, ...missing, ...wrong];
}

describe("the Pulumi YAML example", () => {
  it("uses the component package from this repository", () => {
    expect(project.runtime).toBe("yaml");
    expect(Object.keys(project.packages)).toEqual([schema.name]);
    const pluginDir = path.resolve(EXAMPLE_DIR, project.packages[schema.name] ?? "");
    expect(fs.existsSync(path.join(pluginDir, "PulumiPlugin.yaml"))).toBe(true);
    const manifest = JSON.parse(fs.readFileSync(path.join(pluginDir, "package.json"), "utf8")) as { name: string };
    expect(manifest.name).toBe(schema.name);
  });

  it("gives every resource a type and properties the schema has", () => {
    const resources = Object.entries(project.resources);
    expect(resources.length).toBeGreaterThan(1);
    for (const [name, resource] of resources) {
      const spec = schema.resources[resource.type];
      expect(spec, `${name}: ${resource.type} is not a resource of the schema`).toBeDefined();
      if (spec === undefined) continue;
      expect(objectProblems(resource.properties ?? {}, spec.inputProperties, spec.requiredInputs, name)).toEqual([]);
    }
  });

  it("reads only outputs the resources have, and config it declares", () => {
    const text = JSON.stringify([project.resources, project.outputs]);
    const references = [...text.matchAll(/\$\{([^}]+)\}/g)].map((match) => match[1] ?? "");
    expect(references.length).toBeGreaterThan(3);
    for (const reference of references) {
      const [head = "", output] = reference.split(".");
      if (output === undefined) {
        expect(Object.keys(project.config), reference).toContain(head);
        continue;
      }
      const resource = project.resources[head];
      expect(resource, reference).toBeDefined();
      const outputs = Object.keys(schema.resources[resource?.type ?? ""]?.properties ?? {});
      expect([...outputs, "urn"], reference).toContain(output);
    }
  });

  it("would catch a wrong property, a wrong enum value and a missing connection", () => {
    const spec = schema.resources["containerd-worker:index:ContainerdWorker"];
    if (spec === undefined) throw new Error("no ContainerdWorker in the schema");
    expect(objectProblems({ arch: "x86", sandbox: "p" }, spec.inputProperties, spec.requiredInputs, "w")).toEqual([
      "w.sandbox: no such property",
      "w.connection: required",
      'w.arch: "x86" is not one of amd64, arm64, auto',
    ]);
  });
});
