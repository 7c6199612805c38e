/**
 * Issue 10, proof part 1: hostile strings in every string input and map key the component accepts.
 *
 * For each generated value: either it is refused with an InvalidInputError naming the input's path, or
 * it is accepted and then (1) every step's create/update/delete renders, each root script inside its
 * here-document intact, and (2) the value arrives byte-exact where it belongs: config.toml, hosts.toml
 * and its CA files, the proxy environment, the download base URL on the install steps' standard input.
 * A second property runs whole plans of accepted hostile values on a fake worker (see
 * hostile/fakeWorker.ts): every command, the rootCommand wrapper included, under `sh -c` as root with
 * its standard input, asserting that no marker command ever ran, that every step succeeded, and that
 * the files written and the URLs curl was given hold each value byte for byte.
 */
import type { ContainerdSettings } from "../components/args/containerdSettingsArgs";
import * as TOML from "@iarna/toml";
import * as fc from "fast-check";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Arch,
  ArchChoice,
  artifactFor,
  configSchemaFor,
  DEFAULT_DOWNLOAD_BASE_URL,
  Part,
  PARTS,
  PATHS,
} from "../components/catalog/catalog";
import { TomlTable } from "../components/args/containerdSettingsArgs";
import {
  checkConnection,
  checkNoControlCharacters,
  ConnectionFacts,
  resolveOptions,
  SecretCapableInput,
  urlForDisplay,
  WorkerOptions,
} from "../components/inputs/options";
import { InvalidInputError } from "../components/inputs/errors";
import { WorkerOptionsInput } from "../components/args/containerdWorkerArgs";
import { FILE_MARKER } from "../components/render/registryHosts";
import { RegistryHostsInput, RegistryMirrorInput } from "../components/args/registryArgs";
import { legacyHeaders } from "./legacyInputs";
import {
  assignments,
  rootCommand,
  script,
  SCRIPT_DELIMITER_PREFIX,
  scriptDelimiter,
  scriptHeader,
  shellQuote,
} from "../components/worker/shell";
import { INSTALL_STEP } from "../components/catalog/stepIds";
import { planWorker, WorkerPlan } from "../components/plan/workerPlan";
import { CONTROLS, hostile, withControl } from "./hostile/arbitraries";
import { canRunFakeWorker, releaseChecksums, runFakeWorker } from "./hostile/fakeWorker";

const MARKER_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hostile-marker-"));
const MARKER = path.join(MARKER_DIR, "ran");
const H = hostile(MARKER);
afterAll(() => fs.rmSync(MARKER_DIR, { recursive: true, force: true }));

const hasControl = (text: string) => new RegExp(CONTROLS.source).test(text);
/** Values every site gets besides the generated ones: each has broken something once. */
const EXAMPLES: [string][] = [
  "__proto__",
  "constructor",
  "a  b",
  "a\\b",
  "'",
  `$(touch ${MARKER})`,
  `'$(touch$IFS${MARKER})'`,
  `\n${SCRIPT_DELIMITER_PREFIX}0123456789abcdef0123)\ntouch ${MARKER}\n`,
  "x\u2028y",
].map((value) => [value]);
const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEF"), minLength: 64, maxLength: 64 });
/** Any hostile text, control characters included, or `accepted` with a control character in it. */
const anyOr = (accepted: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 2, arbitrary: accepted }, H.anyText, withControl(accepted));
/** Map keys JavaScript objects treat specially, for every input that takes user keys. */
const OBJECT_KEYS = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty");
const keyText = fc.oneof(H.text(), OBJECT_KEYS);

// ---------------------------------------------------------------------------------------------------
// One generated input: the options, which of them are secrets, and the worker's name and arch.

interface Case {
  name: string;
  input: WorkerOptionsInput;
  secret: Set<SecretCapableInput>;
  /** The arch a worker with `arch: "auto"` reports. */
  workerArch: Arch;
}

const plainCase = (input: WorkerOptionsInput, extra: Partial<Case> = {}): Case => ({
  name: "worker-0",
  input,
  secret: new Set(),
  workerArch: "amd64",
  ...extra,
});

/** A place a string goes: its path as errors name it, and the case that puts a value there. */
interface Site {
  path: string;
  /** The path an error about a control character in the value names (a map key's is `<parent> key`). */
  controlPath: string;
  value: fc.Arbitrary<string>;
  build: (value: string) => Case;
  /** PEM text, the one input lines are allowed in. */
  multiline?: boolean;
}

const site = (path: string, value: fc.Arbitrary<string>, build: (value: string) => Case, controlPath = path): Site => ({
  path,
  controlPath,
  value,
  build,
});

const CRI_RUNTIME = (containerdVersion: string): string[] =>
  configSchemaFor(containerdVersion) === 2
    ? ["plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes"]
    : ["plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"];

/** A nested table holding `leaf` at `keys`, built with own properties (a key may be `__proto__`). */
function nest(keys: string[], leaf: unknown): TomlTable {
  return keys.reduceRight<unknown>((inner, key) => Object.fromEntries([[key, inner]]), leaf) as TomlTable;
}

const PEM_BODY = fc
  .array(fc.string({ unit: fc.constantFrom(..."ABCDEFabcdef0123456789+/="), minLength: 1, maxLength: 64 }), {
    minLength: 1,
    maxLength: 4,
  })
  .map((lines) => lines.join("\n"));
const PEM = fc
  .tuple(fc.array(PEM_BODY, { minLength: 1, maxLength: 3 }), fc.constantFrom("\n", "\r\n"), fc.constantFrom("", "\n"))
  .map(([bodies, eol, tail]) =>
    bodies
      .map((body) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`)
      .join("\n")
      .replace(/\n/g, eol)
      .concat(tail),
  );

const mirrorCase = (mirror: Partial<RegistryMirrorInput>) =>
  plainCase({ registries: { "docker.io": { mirrors: [{ host: "https://mirror.invalid", ...mirror }] } } });
const MIRROR = 'registries["docker.io"].mirrors[0]';
const runtimeCase = (runtime: Record<string, unknown>, name = "gvisor") =>
  plainCase({
    containerdSettings: { runtimes: { [name]: { runtimeType: "io.containerd.runsc.v1", ...runtime } } },
  });
const extraCase = (keys: string[], leaf: unknown) =>
  plainCase({ containerdSettings: { extraConfig: nest(keys, leaf) } });
const EXTRA = "containerdSettings.extraConfig";
const SHIM_TIMEOUT = "io.containerd.timeout.shim.load";
const runtimesPath = CRI_RUNTIME("2.3.1");

/** Every string input and map key of the component, each with values its rules accept and hostile ones. */
const SITES: Site[] = [
  site("name", H.anyText, (name) => plainCase({}, { name })),
  ...PARTS.map((part) =>
    site(
      `versions.${part}`,
      anyOr(fc.constantFrom("2.3.1", "v2.1.9", " 1.7.24 ", "2.0.5-rc.1", "1.9.1", "v1.36.0")),
      (value) => plainCase({ versions: { [part]: value } }),
    ),
  ),
  site("arch", anyOr(fc.constantFrom("amd64", "arm64", "auto")), (arch) =>
    plainCase({ arch: arch as ArchChoice }, { workerArch: "arm64" }),
  ),
  site(
    "sandboxImage",
    anyOr(fc.constantFrom("pause:3.9", "my.registry.invalid:5000/a/b__c:t-1", `x/y@sha256:${"ab".repeat(32)}`)),
    (sandboxImage) => plainCase({ sandboxImage }),
  ),
  site("downloadBaseUrl", anyOr(H.url(false)), (downloadBaseUrl) => plainCase({ downloadBaseUrl })),
  site("downloadBaseUrl", anyOr(H.url(true)), (downloadBaseUrl) =>
    plainCase({ downloadBaseUrl }, { secret: new Set(["downloadBaseUrl"]) }),
  ),
  ...PARTS.map((part) =>
    site(`checksums.${part}`, anyOr(hex64), (value) => plainCase({ checksums: { [part]: value } })),
  ),
  ...(["http", "https"] as const).map((field) =>
    site(`httpProxy.${field}`, anyOr(H.url(true)), (value) =>
      plainCase({ httpProxy: { [field]: value } }, { secret: new Set(["httpProxy"]) }),
    ),
  ),
  site(
    "httpProxy.noProxy",
    anyOr(fc.string({ unit: fc.constantFrom(..."az09.*:/_[]-"), minLength: 1, maxLength: 20 })),
    (entry) => plainCase({ httpProxy: { http: "http://proxy.invalid:3128", noProxy: ["localhost", entry] } }),
    "httpProxy.noProxy[1]",
  ),
  site(
    "registries",
    anyOr(
      fc.oneof(
        fc.constantFrom("_default", "docker.io", "my.registry.invalid:5000", "a-b.c", "127.0.0.1:5000"),
        OBJECT_KEYS,
      ),
    ),
    (registry) => plainCase({ registries: Object.fromEntries([[registry, { server: "https://registry.invalid" }]]) }),
    "registries key",
  ),
  site('registries["docker.io"].server', anyOr(H.url(false)), (server) =>
    plainCase({ registries: { "docker.io": { server } } }),
  ),
  site(`${MIRROR}.host`, anyOr(H.url(false)), (host) => mirrorCase({ host })),
  site(
    `${MIRROR}.capabilities`,
    anyOr(fc.constantFrom("pull", "resolve", "push")),
    (capability) => mirrorCase({ capabilities: [capability as "pull"] }),
    `${MIRROR}.capabilities[0]`,
  ),
  {
    ...site(
      `${MIRROR}.caPem`,
      fc.oneof(
        PEM,
        H.anyText,
        PEM.chain((pem) => H.anyText.map((bad) => pem + bad)),
      ),
      (caPem) => mirrorCase({ caPem }),
    ),
    multiline: true,
  },
  site(
    `${MIRROR}.headers`,
    anyOr(
      fc.oneof(
        fc.string({ unit: fc.constantFrom(..."!#$%&'*+.^_`|~09AZaz-"), minLength: 1, maxLength: 16 }),
        OBJECT_KEYS,
      ),
    ),
    (header) => mirrorCase({ headers: legacyHeaders(Object.fromEntries([[header, "v"]])) }),
    `${MIRROR}.headers key`,
  ),
  site(`${MIRROR}.headers["X-Token"]`, anyOr(H.text()), (value) =>
    mirrorCase({ headers: legacyHeaders({ "X-Token": value }) }),
  ),
  site(
    `${MIRROR}.headers["X-List"]`,
    anyOr(H.text()),
    (value) => mirrorCase({ headers: { "X-List": ["first", value] } }),
    `${MIRROR}.headers["X-List"][1]`,
  ),
  site("containerdSettings.snapshotter", anyOr(fc.constantFrom("native", "overlayfs")), (snapshotter) =>
    plainCase({ containerdSettings: { snapshotter } }),
  ),
  site(
    "containerdSettings.runtimes",
    anyOr(fc.oneof(fc.constantFrom("gvisor", "kata-2", "a"), OBJECT_KEYS)),
    (name) => runtimeCase({}, name),
    "containerdSettings.runtimes key",
  ),
  site("containerdSettings.runtimes.gvisor.runtimeType", anyOr(fc.constantFrom("io.containerd.kata.v2")), (value) =>
    runtimeCase({ runtimeType: value }),
  ),
  site("containerdSettings.runtimes.gvisor.runtimePath", anyOr(H.text().map((text) => `/${text}`)), (runtimePath) =>
    runtimeCase({ runtimePath }),
  ),
  site(
    "containerdSettings.runtimes.gvisor.podAnnotations",
    anyOr(H.text()),
    (annotation) => runtimeCase({ podAnnotations: ["io.kubernetes.cri.*", annotation] }),
    "containerdSettings.runtimes.gvisor.podAnnotations[1]",
  ),
  site(
    "containerdSettings.runtimes.gvisor.options",
    anyOr(fc.oneof(fc.constantFrom("BinaryName", "TypeUrl", "ConfigPath"), OBJECT_KEYS)),
    (key) => runtimeCase({ options: Object.fromEntries([[key, "/usr/local/bin/runsc"]]) }),
    "containerdSettings.runtimes.gvisor.options key",
  ),
  site("containerdSettings.runtimes.gvisor.options.ConfigPath", anyOr(H.text()), (value) =>
    runtimeCase({ options: { ConfigPath: value, Flags: ["--x", value] } }),
  ),
  site(EXTRA, anyOr(keyText), (key) => extraCase(["timeouts", key], "5s"), `${EXTRA}.timeouts key`),
  site(`${EXTRA}.timeouts["${SHIM_TIMEOUT}"]`, anyOr(H.text()), (value) =>
    extraCase(["timeouts", SHIM_TIMEOUT], value),
  ),
  site(
    EXTRA,
    anyOr(keyText),
    (key) => extraCase(["proxy_plugins", key, "address"], "/run/p.sock"),
    `${EXTRA}.proxy_plugins key`,
  ),
  site(
    `${EXTRA}.proxy_plugins.p.capabilities`,
    anyOr(H.text()),
    (value) => extraCase(["proxy_plugins", "p", "capabilities"], ["a", value]),
    `${EXTRA}.proxy_plugins.p.capabilities[1]`,
  ),
  // Any depth: a runtime's `options` takes whatever tables it is given.
  site(
    EXTRA,
    anyOr(keyText),
    (key) => extraCase([...runtimesPath, "x", "options", key, key, "k"], "v"),
    `${EXTRA}.plugins["io.containerd.cri.v1.runtime"].containerd.runtimes.x.options key`,
  ),
  site(
    EXTRA,
    anyOr(H.text()),
    (value) => extraCase([...runtimesPath, "x", "options", "a", "b c", "d"], value),
    `${EXTRA}.plugins["io.containerd.cri.v1.runtime"].containerd.runtimes.x.options.a["b c"].d`,
  ),
];

/** Connection facts: checked only (they reach SSH, never a script). */
const CONNECTION_SITES: { path: string; value: fc.Arbitrary<string>; build: (value: string) => ConnectionFacts }[] = [
  { path: "connection.host", value: anyOr(H.text(1)), build: (host) => ({ host }) },
  { path: "connection.user", value: anyOr(H.text(1)), build: (user) => ({ host: "h", user }) },
  { path: "connection.proxy.host", value: anyOr(H.text(1)), build: (host) => ({ host: "h", proxy: { host } }) },
  {
    path: "connection.proxy.user",
    value: anyOr(H.text(1)),
    build: (user) => ({ host: "h", proxy: { host: "b", user } }),
  },
];

// ---------------------------------------------------------------------------------------------------
// Resolving and rendering a case, and what each accepted value must have become.

/** What the component does with a case before any script: the name's check, then resolveOptions. */
function resolve(given: Case): WorkerOptions {
  checkNoControlCharacters("name", given.name);
  return resolveOptions(given.input, given.secret);
}

const planOf = (given: Case, options: WorkerOptions, generations = {}): WorkerPlan =>
  planWorker(given.name, options, generations, options.arch === "auto" ? given.workerArch : options.arch);

const stepOf = (plan: WorkerPlan, id: string) => {
  const step = plan.steps.find((s) => s.id === id);
  if (step === undefined) throw new Error(`no step ${id}`);
  return step;
};

/** Whether `input` is `path` or below it. */
const isUnder = (input: string, at: string) =>
  input === at || input.startsWith(`${at}.`) || input.startsWith(`${at}[`) || input === `${at} key`;

/** The value at `keys` of a parsed TOML table, own properties only. */
function valueAt(table: unknown, keys: readonly string[]): unknown {
  let at: unknown = table;
  for (const key of keys) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/** Every leaf of a table the user gave, with its path; arrays are leaves. */
function leaves(table: unknown, at: string[] = []): { path: string[]; value: unknown }[] {
  if (typeof table !== "object" || table === null || Array.isArray(table)) return [{ path: at, value: table }];
  return Object.entries(table).flatMap(([key, value]) => leaves(value, [...at, key]));
}

/** Names @iarna/toml's parser mishandles as table names (it drops `[a.toString]`'s keys): Object.prototype's. */
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

/**
 * Parses TOML back to plain data: with @iarna/toml, or, when the text holds a name it mishandles,
 * with Python's tomllib (an independent parser; Debian's python3 has it).
 */
function parseToml(text: string): unknown {
  if (!PROTOTYPE_NAMES.some((name) => text.includes(name))) return JSON.parse(JSON.stringify(TOML.parse(text)));
  const python = "import json, sys, tomllib; print(json.dumps(tomllib.loads(sys.stdin.read())))";
  const result = spawnSync("python3", ["-c", python], { input: text, encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

/** The files the registries step gets on standard input, parsed back from the stream. */
function registryFiles(stream: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  for (const line of stream.split("\n").slice(0, -1)) {
    if (line.startsWith(FILE_MARKER)) {
      current = line.slice(FILE_MARKER.length);
      files.set(current, "");
    } else {
      expect(line.startsWith("|") && current !== undefined, `stream line ${JSON.stringify(line)}`).toBe(true);
      files.set(current as string, `${files.get(current as string) ?? ""}${line.slice(1)}\n`);
    }
  }
  return files;
}

/** A root script's here-document: the delimiter ends it exactly once, on its own line, and no other line starts with it. */
function expectIntactHereDocument(command: string): void {
  const match = new RegExp(`<<'(${SCRIPT_DELIMITER_PREFIX}[0-9a-f]{20})'\\n`).exec(command);
  expect(match?.[1]).toBeDefined();
  const delimiter = match?.[1] ?? "";
  const lines = command.split("\n");
  expect(lines.filter((line) => line.startsWith(delimiter))).toEqual([delimiter]);
  expect(lines[lines.indexOf(delimiter) + 1]).toBe(")");
}

/**
 * What every accepted value must have become in the rendered plan: the here-documents intact, and each
 * value byte-exact in config.toml, hosts.toml and its CA files, the proxy environment, and the
 * download base URL on standard input.
 */
function expectArrival(given: Case, options: WorkerOptions, plan: WorkerPlan): void {
  for (const step of plan.steps) {
    for (const command of [step.create, step.update, step.delete]) if (command) expectIntactHereDocument(command);
  }
  const { input } = given;
  // config.toml: the sandbox image, the typed settings and every extraConfig leaf, parsed back.
  const config = stepOf(plan, "config").stdin ?? "";
  expect(config).toBe(plan.config.text);
  const parsed = parseToml(config);
  const containerd = options.versions.containerd;
  const sandboxAt =
    configSchemaFor(containerd) === 2
      ? ["plugins", "io.containerd.grpc.v1.cri", "sandbox_image"]
      : ["plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox"];
  expect(valueAt(parsed, sandboxAt)).toBe(input.sandboxImage ?? options.sandboxImage);
  // Generated inputs are plain values (the WorkerOptionsInput type also admits Outputs).
  const settings = (input.containerdSettings ?? {}) as ContainerdSettings;
  for (const { path: keys, value } of leaves(settings.extraConfig ?? {})) {
    expect(valueAt(parsed, keys), `extraConfig ${JSON.stringify(keys)}`).toEqual(value);
  }
  for (const [name, runtime] of Object.entries(settings.runtimes ?? {})) {
    const at = [...CRI_RUNTIME(containerd), name];
    expect(valueAt(parsed, [...at, "runtime_type"])).toBe(runtime.runtimeType);
    expect(valueAt(parsed, [...at, "runtime_path"])).toBe(runtime.runtimePath);
    expect(valueAt(parsed, [...at, "pod_annotations"])).toEqual(runtime.podAnnotations);
    for (const [key, value] of Object.entries(runtime.options ?? {})) {
      expect(valueAt(parsed, [...at, "options", key])).toEqual(value);
    }
  }
  if (settings.snapshotter !== undefined) expect(config).toContain(`snapshotter = "${settings.snapshotter}"`);
  // The download base URL: the first line of every install step's standard input, the second its shown form.
  const base = (typeof input.downloadBaseUrl === "string" ? input.downloadBaseUrl : DEFAULT_DOWNLOAD_BASE_URL).replace(
    /\/+$/,
    "",
  );
  for (const id of Object.values(INSTALL_STEP)) {
    expect(stepOf(plan, id).stdin).toBe(`${base}\n${urlForDisplay(base)}\n`);
  }
  // The proxy environment: NAME=value lines, exactly the values given.
  const proxy = (input.httpProxy ?? {}) as { http?: string; https?: string; noProxy?: string[] };
  const wanted = [
    ["HTTP_PROXY", proxy.http],
    ["HTTPS_PROXY", proxy.https],
    ["NO_PROXY", proxy.noProxy?.join(",")],
  ].filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== "");
  const environment = stepOf(plan, "proxy").stdin ?? "";
  const lines = environment.split("\n").slice(0, -1);
  expect(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)])).toEqual(
    proxy.http === undefined && proxy.https === undefined ? [] : wanted,
  );
  expect(stepOf(plan, "restart").stdin).toBe(environment);
  // hosts.toml and CA files, parsed back from the registries step's standard input.
  const files = registryFiles(stepOf(plan, "registries").stdin ?? "");
  const registries = (input.registries ?? {}) as Record<string, RegistryHostsInput>;
  for (const [registry, hosts] of Object.entries(registries)) {
    const toml = files.get(`${registry}/hosts.toml`);
    expect(toml, registry).toBeDefined();
    const document = parseToml(toml ?? "");
    expect(valueAt(document, ["server"])).toBe(hosts.server);
    const mirrors = hosts.mirrors ?? [];
    expect(Object.keys(valueAt(document, ["host"]) ?? {})).toEqual(mirrors.map((m) => m.host));
    mirrors.forEach((mirror, index) => {
      const table = valueAt(document, ["host", mirror.host]);
      expect(valueAt(table, ["capabilities"])).toEqual(mirror.capabilities ?? ["pull", "resolve"]);
      for (const [header, value] of Object.entries(mirror.headers ?? {})) {
        const values = Array.isArray(value) ? value : [value];
        expect(valueAt(table, ["header", header])).toEqual(values.length === 1 ? values[0] : values);
      }
      if (mirror.caPem !== undefined) {
        const ca = `${registry}/ca-${index}.crt`;
        expect(valueAt(table, ["ca"])).toBe(`${PATHS.registryConfigDir}/${ca}`);
        expect(files.get(ca)).toBe(`${mirror.caPem.replace(/\r\n/g, "\n").trim()}\n`);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------------

describe("hostile values in every input: refused by path, or rendered and arrived byte-exact", () => {
  it.each(SITES.map((s) => [s.path, s] as const))(
    "%s",
    (_path, at) => {
      fc.assert(
        fc.property(at.value, (value) => {
          const given = at.build(value);
          let options: WorkerOptions;
          try {
            options = resolve(given);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
            const { input } = error as InvalidInputError;
            expect(isUnder(input, at.path), `${input} is not under ${at.path}`).toBe(true);
            const controlled = at.multiline ? value.replace(/\r?\n/g, "") : value;
            if (hasControl(controlled)) expect(input).toBe(at.controlPath);
            return;
          }
          expect(
            hasControl(at.multiline ? value.replace(/\r?\n/g, "") : value),
            "a control character was accepted",
          ).toBe(false);
          let plan: WorkerPlan;
          try {
            plan = planOf(given, options, { config: 1 });
          } catch (error) {
            // A value long enough to push a script past what one command carries is refused at plan time.
            expect(error).toBeInstanceOf(InvalidInputError);
            expect((error as InvalidInputError).input).toBe("containerdSettings");
            expect(at.path).toMatch(/^containerdSettings\b/);
            return;
          }
          expectArrival(given, options, plan);
        }),
        { numRuns: 40, examples: EXAMPLES },
      );
    },
    30_000,
  );

  it.each(CONNECTION_SITES.map((s) => [s.path, s] as const))("%s", (_path, at) => {
    fc.assert(
      fc.property(at.value, (value) => {
        try {
          checkConnection(at.build(value));
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInputError);
          expect((error as InvalidInputError).input).toBe(at.path);
          return;
        }
        expect(hasControl(value)).toBe(false);
        expect(value.trim()).not.toBe("");
      }),
      { numRuns: 40 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// The one quoting path itself: what reaches a script does so through assignments() and shellQuote, and
// a root script through rootCommand's here-document. (The inputs above that reach a script are either
// strictly checked, as versions are, or quoted by shellQuote, as the name and extraConfig are.)

describe("the quoting path", () => {
  const label = { worker: "w", step: "config" };
  const run = (command: string, input = "") => spawnSync("sh", ["-c", command], { input, encoding: "utf8" });

  it("assignments(): every value without a control character arrives byte-exact in its variable; others are refused", () => {
    fc.assert(
      fc.property(H.anyText, (value) => {
        if (hasControl(value)) {
          expect(() => assignments({ value })).toThrow(/control character/);
          return;
        }
        const result = spawnSync("bash", ["-c", `${assignments({ value })}\nprintf %s "$value"`], { encoding: "utf8" });
        expect(result.stdout).toBe(value);
        expect(fs.readdirSync(MARKER_DIR)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  }, 30_000);

  it("rootCommand(): a script quoting any text, lines and here-document words included, runs intact", () => {
    fc.assert(
      fc.property(H.anyText, fc.string({ unit: "binary", maxLength: 20 }), (text, stdin) => {
        // NUL cannot be in a shell word; everything else can, newlines and the delimiters included.
        const value = text.replace(/\u0000/g, "");
        const body = script(scriptHeader(label), `printf '%s|' ${shellQuote(value)}`, "cat");
        // Refused, and only then, when a line starts with part of the delimiter and then a non-ASCII
        // character: dash would lose that byte.
        const delimiter = scriptDelimiter(body);
        const risky = body.split("\n").some((line) => {
          let matched = 0;
          while (matched < line.length && line[matched] === delimiter[matched]) matched++;
          return matched > 0 && matched < line.length && line.charCodeAt(matched) > 0x7f;
        });
        if (risky) {
          expect(() => rootCommand(label, body)).toThrow(/part of its here-document delimiter/);
          return;
        }
        const result = run(rootCommand(label, body), stdin.replace(/\u0000/g, ""));
        expect(result.stderr).toBe("");
        expect(JSON.stringify(result.stdout)).toBe(JSON.stringify(`${value}|${stdin.replace(/\u0000/g, "")}`));
        expect(fs.readdirSync(MARKER_DIR)).toEqual([]);
      }),
      {
        numRuns: 100,
        // A line starting with part of the delimiter and then a non-ASCII character (dash loses the byte).
        examples: [
          ["x\nCé\nCONTAINERD_WORKER_SCRIPT_\u{42238}", ""],
          [`\nCONTAINERD_WORKER_ROOT_SCRIPT)\ntouch ${MARKER}\nEOF)\n`, "in"],
        ],
      },
    );
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------------
// Whole plans of accepted hostile values, run on a fake worker.

/** A table of hostile keys and values, tables nested in it to `depth`, keys with own properties. */
function hostileTable(depth: number): fc.Arbitrary<TomlTable> {
  const key = fc.oneof(H.text(), fc.constantFrom("__proto__", "constructor", "toString", "", "a  b", "a\\b"));
  const leaf = fc.oneof(H.text(), fc.integer(), fc.boolean(), fc.array(H.text(), { maxLength: 3 }));
  const value: fc.Arbitrary<unknown> = depth <= 0 ? leaf : fc.oneof(leaf, hostileTable(depth - 1));
  return fc
    .uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 3 })
    .map((entries) => Object.fromEntries(entries) as TomlTable);
}

const hostileKey = fc.oneof(H.text(), fc.constantFrom("__proto__", "constructor", "a  b", "a\\b", "'q'"));
const uniqueEntries = <T>(value: fc.Arbitrary<T>, maxLength = 3) =>
  fc
    .uniqueArray(fc.tuple(hostileKey, value), { selector: ([k]) => k, maxLength })
    .map((entries) => Object.fromEntries(entries));

/** containerdSettings with hostile text everywhere text may go, for a containerd version. */
const hostileSettings = (containerdVersion: string) =>
  fc
    .record({
      runtimes: fc.dictionary(
        fc.constantFrom("gvisor", "kata-2"),
        fc.record({
          runtimeType: fc.constantFrom("io.containerd.runsc.v1", "io.containerd.kata.v2"),
          runtimePath: H.text().map((text) => `/${text}`),
          podAnnotations: fc.array(H.text(), { maxLength: 3 }),
          options: fc.dictionary(fc.constantFrom("BinaryName", "ConfigPath", "Debug_1"), H.text(), { maxKeys: 2 }),
        }),
        { maxKeys: 2 },
      ),
      timeouts: uniqueEntries(H.text()),
      proxyPlugins: uniqueEntries(
        // containerd 1.7 knows no capabilities for a proxy plugin.
        configSchemaFor(containerdVersion) === 2
          ? fc.record({ type: H.text(), address: H.text() })
          : fc.record({ type: H.text(), address: H.text(), capabilities: fc.array(H.text(), { maxLength: 2 }) }),
        2,
      ),
      runtimeOptions: uniqueEntries(hostileTable(2), 2).map((byName) => {
        const runtimes = Object.entries(byName).filter(
          ([name]) => name !== "runc" && name !== "gvisor" && name !== "kata-2",
        );
        return Object.fromEntries(
          runtimes.map(([name, options]) => [name, { runtime_type: "io.containerd.runc.v2", options }]),
        );
      }),
    })
    .map(({ runtimes, timeouts, proxyPlugins, runtimeOptions }) => ({
      runtimes,
      extraConfig: {
        timeouts,
        proxy_plugins: proxyPlugins,
        ...nest(CRI_RUNTIME(containerdVersion), runtimeOptions),
      },
    }));

const noProxyEntry = fc.string({ unit: fc.constantFrom(..."az09.*:/_[]-"), minLength: 1, maxLength: 12 });
const registryName = fc.constantFrom("_default", "docker.io", "my.registry.invalid:5000", "127.0.0.1:5000");
const hostileRegistry = fc.record({
  server: fc.option(H.url(false), { nil: undefined }),
  mirrors: fc.uniqueArray(
    fc.record(
      {
        host: H.url(false),
        capabilities: fc.subarray(["pull", "resolve", "push"] as ("pull" | "resolve" | "push")[], { minLength: 1 }),
        caPem: PEM,
        headers: fc
          .uniqueArray(
            fc.tuple(
              fc.string({ unit: fc.constantFrom(..."!#$%&'*+.^_`|~09AZaz-"), minLength: 1, maxLength: 12 }),
              fc.oneof(H.text(), fc.array(H.text(), { minLength: 1, maxLength: 3 })),
            ),
            { selector: ([name]) => name, maxLength: 3 },
          )
          .map((entries) => legacyHeaders(Object.fromEntries(entries))),
        skipVerify: fc.boolean(),
      },
      { requiredKeys: ["host"] },
    ),
    { selector: (mirror) => mirror.host, minLength: 1, maxLength: 2 },
  ),
});

/** A whole worker of accepted hostile values: every input at once. */
const hostileWorker = fc
  .record({
    name: H.text(1).filter((name) => name.trim() !== ""),
    arch: fc.constantFrom("amd64", "arm64", "auto"),
    workerArch: fc.constantFrom<Arch>("amd64", "arm64"),
    versions: fc.record({
      containerd: fc.constantFrom("2.3.1", "v2.1.9", " 1.7.24 ", "2.0.5-rc.1"),
      runc: fc.constantFrom("1.4.2", "v1.3.0-rc.2"),
      cni: fc.constantFrom("1.9.1", "v1.6.0"),
      crictl: fc.constantFrom("1.36.0", "v1.33.0-beta.0"),
    }),
    sandboxImage: fc.constantFrom("pause:3.9", "my.registry.invalid:5000/a/b__c:t-1", `x/y@sha256:${"ab".repeat(32)}`),
    systemdCgroup: fc.boolean(),
    staticBuild: fc.boolean(),
    purgeStateOnDestroy: fc.boolean(),
    secret: fc.boolean(),
    downloadBaseUrl: fc.option(H.url(true), { nil: undefined }),
    pinned: fc.subarray([...PARTS]),
    upperCase: fc.boolean(),
    httpProxy: fc.option(
      fc.record({
        http: fc.option(H.url(true), { nil: undefined }),
        https: H.url(true),
        noProxy: fc.array(noProxyEntry, { maxLength: 3 }),
      }),
      { nil: undefined },
    ),
    registries: fc.dictionary(registryName, hostileRegistry, { maxKeys: 2 }),
  })
  .chain((worker) =>
    hostileSettings(worker.versions.containerd.trim().replace(/^v/, "")).map((containerdSettings) => ({
      ...worker,
      containerdSettings,
    })),
  )
  .map(({ name, workerArch, secret, pinned, upperCase, ...input }): Case & { pinned: Part[]; upperCase: boolean } => {
    // Credentials in a URL are accepted only from a secret: without one, the URL loses them.
    const strip = (url: string | undefined) => (secret || url === undefined ? url : url.replace(/\/\/[^/]*@/, "//"));
    // A proxy URL keeps no ' or $ (systemd's environment file would change them): percent-encoded, as a user must.
    const forSystemd = (url: string | undefined) => url?.replaceAll("'", "%27").replaceAll("$", "%24");
    const httpProxy = input.httpProxy && {
      ...input.httpProxy,
      http: forSystemd(strip(input.httpProxy.http)),
      https: forSystemd(strip(input.httpProxy.https)),
    };
    return {
      name,
      workerArch,
      pinned,
      upperCase,
      secret: new Set(secret ? (["downloadBaseUrl", "httpProxy", "registries"] as const) : []),
      input: { ...input, downloadBaseUrl: strip(input.downloadBaseUrl), httpProxy },
    };
  });

/** Every value that broke something once, in one worker: run on every test run, whatever is generated. */
const own = (entries: [string, unknown][]) => Object.fromEntries(entries) as TomlTable;
const WORST_WORKER: Case & { pinned: Part[]; upperCase: boolean } = {
  name: `'$(touch ${MARKER})\`touch ${MARKER}\`a  b\\`,
  workerArch: "arm64",
  pinned: ["runc", "crictl"],
  upperCase: true,
  secret: new Set(["downloadBaseUrl", "httpProxy", "registries"]),
  input: {
    arch: "auto",
    versions: { containerd: "v2.3.1", runc: "1.4.2", cni: "1.9.1", crictl: "1.36.0" },
    sandboxImage: "pause:3.9",
    systemdCgroup: true,
    staticBuild: true,
    purgeStateOnDestroy: true,
    downloadBaseUrl: `https://u'$(id):p'@mirror.invalid/$(touch$IFS${MARKER})'//`,
    httpProxy: {
      http: `http://u:%27%24(id)@proxy.invalid:3128/(touch%24IFS${MARKER})`,
      https: `https://proxy.invalid/;touch%24IFS${MARKER};&&`,
      noProxy: ["*.svc", "[::1]", "10.0.0.0/8"],
    },
    registries: {
      "docker.io": {
        server: `https://registry.invalid/'$(touch$IFS${MARKER})'`,
        mirrors: [
          {
            host: `https://mirror.invalid/&&touch$IFS${MARKER}`,
            headers: own([
              ["__proto__", `'$(touch ${MARKER})'`],
              ["X-A", ["a  b", "a\\b"]],
            ]) as Record<string, string[]>,
            caPem: "-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----",
          },
        ],
      },
    },
    containerdSettings: {
      runtimes: {
        gvisor: {
          runtimeType: "io.containerd.runsc.v1",
          runtimePath: `/opt/'$(touch ${MARKER})'/a  b`,
          podAnnotations: ["a\\b", "'"],
          options: { ConfigPath: "a  b'\\" },
        },
      },
      extraConfig: {
        timeouts: own([
          ["a  b", "c  d"],
          ["a\\b", "'\\"],
          ["__proto__", "x"],
        ]),
        proxy_plugins: own([
          ["a\\b", { type: "snapshot", address: "/run/a  b.sock" }],
          ["__proto__", own([["type", "x"]])],
        ]),
        ...nest(CRI_RUNTIME("2.3.1"), {
          "a  b": {
            runtime_type: "io.containerd.runc.v2",
            options: own([
              [
                "a\\b",
                own([
                  ["__proto__", "v"],
                  ["k", "a  b"],
                ]),
              ],
            ]),
          },
        }),
      },
    },
  },
};

/** The URL a `curl --config` file names, unquoted as curl reads it. */
function curlUrl(config: string): string {
  const match = /^url = "((?:[^"\\]|\\.)*)"\n$/.exec(config);
  expect(match, config).not.toBeNull();
  return (match?.[1] ?? "").replace(/\\(.)/g, "$1");
}

describe("accepted hostile values on a fake worker", () => {
  const sandbox = canRunFakeWorker();

  it("the sandbox can be made (root, private mount and PID namespaces)", () => {
    expect(sandbox, "unshare -m -p needs root with CAP_SYS_ADMIN, as in CI").toBe(true);
  });

  it.runIf(sandbox)(
    "run every step: no marker runs, every step succeeds, every value arrives byte-exact",
    () => {
      fc.assert(
        fc.property(hostileWorker, (given) => {
          const box = fs.mkdtempSync(path.join(os.tmpdir(), "hostile-worker-"));
          const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "hostile-cwd-"));
          try {
            const unpinned = resolve(given);
            const arch = unpinned.arch === "auto" ? given.workerArch : unpinned.arch;
            // Pinned checksums must match what the fake worker serves: its release files' own.
            const sums = releaseChecksums(box, unpinned, arch);
            const checksums = Object.fromEntries(
              given.pinned.map((part) => [part, given.upperCase ? sums[part].toUpperCase() : sums[part]]),
            );
            const pinnedCase = { ...given, input: { ...given.input, checksums } };
            const options = resolve(pinnedCase);
            let plan: WorkerPlan;
            try {
              plan = planOf(pinnedCase, options);
            } catch (error) {
              // A root script travels as one argument (`bash -c "$root_script"`), which Linux caps at 128 KiB
              // (MAX_ARG_STRLEN): planWorker refuses a longer one by name. Not what this property is about.
              const tooLong = error instanceof InvalidInputError && error.input === "containerdSettings";
              fc.pre(!tooLong);
              throw error;
            }
            expectArrival(pinnedCase, options, plan);

            const run = runFakeWorker(box, plan, options, arch, cwd);

            expect(fs.readdirSync(MARKER_DIR), "a marker command ran").toEqual([]);
            expect(fs.readdirSync(cwd), "a command wrote into its working directory").toEqual([]);
            for (const result of run.results) {
              expect(result.status, `${result.name}: ${result.stderr}${result.stdout}`).toBe(0);
            }
            // The files the steps wrote are their standard input, byte for byte, and parse back to the values.
            const file = (at: string) => run.files.get(at)?.toString("utf8");
            expect(file(PATHS.containerdConfig)).toBe(stepOf(plan, "config").stdin);
            const environment = stepOf(plan, "proxy").stdin ?? "";
            expect(file(PATHS.containerdProxyEnv)).toBe(environment === "" ? undefined : environment);
            const sent = registryFiles(stepOf(plan, "registries").stdin ?? "");
            const written = [...run.files.keys()].filter((at) => at.startsWith(`${PATHS.registryConfigDir}/`));
            expect(written.sort()).toEqual([...sent.keys()].map((rel) => `${PATHS.registryConfigDir}/${rel}`).sort());
            for (const [rel, content] of sent) expect(file(`${PATHS.registryConfigDir}/${rel}`)).toBe(content);
            // curl was given exactly base + path for every download, through its --config.
            const base = options.downloadBaseUrl;
            const expected = PARTS.flatMap((part) => {
              const artifact = artifactFor(part, options.versions[part], arch, "", {
                staticBuild: options.staticBuild,
              });
              return [artifact.url, ...(options.checksums[part] === undefined ? [artifact.checksumUrl] : [])];
            }).map((urlPath) => `${base}${urlPath}`);
            expect(run.curlConfigs.map(curlUrl).sort()).toEqual(expected.sort());
            expect(run.leftAfterDestroy, "files a destroy left").toEqual([]);
          } finally {
            fs.rmSync(box, { recursive: true, force: true });
            fs.rmSync(cwd, { recursive: true, force: true });
          }
        }),
        // No shrinking: each run of a case is seconds; the counterexample is printed whole.
        { numRuns: 6, endOnFailure: true, examples: [[WORST_WORKER]] },
      );
    },
    120_000,
  );
});
