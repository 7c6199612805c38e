/**
 * The published package as a user gets it: `npm pack` of components/, installed from the tarball with the peer SDKs
 * into a project outside this repository, type-checked under `strict`, and run, first from its compiled JavaScript
 * under Pulumi's mocks with plain node, then through the SDK's own language entry (`@pulumi/pulumi/cmd/run`, with
 * ts-node as the nodejs language host registers it) against a resource monitor and engine served by this test.
 *
 * Once for the peer SDK versions this repository locks, and once for the lowest ones components/package.json
 * accepts (the first run may fetch those from the registry; the npm cache keeps them after).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as emptypb from "google-protobuf/google/protobuf/empty_pb";
import * as structpb from "google-protobuf/google/protobuf/struct_pb";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engpb from "@pulumi/pulumi/proto/engine_pb";
import * as resrpc from "@pulumi/pulumi/proto/resource_grpc_pb";
import * as respb from "@pulumi/pulumi/proto/resource_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSchema } from "../../tools/providerSchema";
import { secretWire, startProvider } from "../provider/providerHarness";
import { verifyStdout } from "../programStack";

const ROOT = path.resolve(__dirname, "../..");
const LIBRARY = path.join(ROOT, "components");
const FIXTURE = path.join(__dirname, "consumer");
/** Every step of one worker is one child `remote.Command`. */
const STEPS_PER_WORKER = 13;

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, "utf8")) as T;
const library = readJson<{
  version: string;
  peerDependencies: Record<string, string>;
}>(path.join(LIBRARY, "package.json"));
const installed = (name: string) =>
  readJson<{ version: string }>(path.join(ROOT, "node_modules", name, "package.json"));

/** The lowest version a `^x.y.z` or `>=x.y.z ...` range accepts. */
function lowest(range: string): string {
  const floor = /^(?:\^|>=\s*)(\d+\.\d+\.\d+)/.exec(range)?.[1];
  if (floor === undefined) throw new Error(`no lower bound in the peer range ${range}`);
  return floor;
}

const PEER_SETS = [
  {
    label: "the locked SDKs",
    pulumi: installed("@pulumi/pulumi").version,
    command: installed("@pulumi/command").version,
  },
  {
    label: "the lowest SDKs the peer ranges accept",
    pulumi: lowest(library.peerDependencies["@pulumi/pulumi"] ?? ""),
    command: lowest(library.peerDependencies["@pulumi/command"] ?? ""),
  },
];

let work: string;
let tarball: string;

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(file, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${file} ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`,
    );
  }
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "containerd-worker-package-"));
  // `npm pack` runs the package's prepack, its build, as publishing does.
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], LIBRARY)) as {
    filename: string;
  }[];
  tarball = path.join(work, packed[0]?.filename ?? "");
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("the tarball", () => {
  const files = () =>
    run("tar", ["-tzf", tarball], work)
      .split("\n")
      .filter(Boolean)
      .map((file) => file.replace(/^package\//, ""));

  it("holds the compiled library, its declarations, its license, changelog and README", () => {
    expect(path.basename(tarball)).toBe(`containerd-worker-${library.version}.tgz`);
    expect(files()).toEqual(
      expect.arrayContaining([
        "package.json",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "tsconfig.json",
        "index.ts",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/index.d.ts.map",
        "dist/config.js",
        "dist/config.d.ts",
        "dist/catalog/containerdConfigKeys.json",
        "PulumiPlugin.yaml",
        "schema.json",
      ]),
    );
  });

  it("holds, in dist/, every shell script and JSON file the library reads at run time", () => {
    const sources = files().filter((file) => /\.(sh|json)$/.test(file) && !file.startsWith("dist/"));
    const data = sources.filter((file) => !/^(package|tsconfig(\..+)?)\.json$/.test(file));
    expect(data.length).toBeGreaterThan(0);
    expect(files()).toEqual(expect.arrayContaining(data.map((file) => `dist/${file}`)));
  });

  it("holds no tests, CI files, stack configuration, build step or dependencies", () => {
    for (const file of files()) {
      expect(file).not.toMatch(/(^|\/)(tests|\.ci|node_modules|build)\//);
      expect(file).not.toMatch(/^Pulumi(\..+)?\.yaml$/);
      expect(file).not.toMatch(/\.test\.ts$/);
    }
  });

  it("carries the repository's license text", () => {
    expect(fs.readFileSync(path.join(LIBRARY, "LICENSE"), "utf8")).toBe(
      fs.readFileSync(path.join(ROOT, "LICENSE"), "utf8"),
    );
  });
});

describe.each(PEER_SETS)("a consumer project on $label", ({ pulumi, command }) => {
  let project: string;

  beforeAll(() => {
    project = fs.mkdtempSync(path.join(work, "consumer-"));
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, main: "index.ts" }, null, 2),
    );
    // Pulumi's TypeScript template, strict; no resolveJsonModule, no paths: what a user has.
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            outDir: "bin",
            target: "es2020",
            module: "commonjs",
            moduleResolution: "node",
            sourceMap: true,
            noImplicitReturns: true,
            forceConsistentCasingInFileNames: true,
            types: ["node"],
          },
          files: ["index.ts", "mocked.ts"],
        },
        null,
        2,
      ),
    );
    for (const file of ["index.ts", "mocked.ts"]) fs.copyFileSync(path.join(FIXTURE, file), path.join(project, file));
    run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        tarball,
        `@pulumi/pulumi@${pulumi}`,
        `@pulumi/command@${command}`,
        `typescript@${installed("typescript").version}`,
        `@types/node@${installed("@types/node").version}`,
      ],
      project,
    );
  });

  it("installs one copy of each SDK, the program's own", () => {
    expect(fs.existsSync(path.join(project, "node_modules/containerd-worker/node_modules/@pulumi"))).toBe(false);
    expect(readJson<{ version: string }>(path.join(project, "node_modules/@pulumi/pulumi/package.json")).version).toBe(
      pulumi,
    );
    expect(fs.existsSync(path.join(project, "node_modules/@pulumi/aws"))).toBe(false);
  });

  it("imports the package root without running any program", () => {
    // Outside a Pulumi run: a stack program would fail here; a library loads and registers nothing.
    const out = run(
      process.execPath,
      ["-e", 'require("containerd-worker"); require("containerd-worker/config"); console.log("loaded")'],
      project,
    );
    expect(out).toBe("loaded\n");
  });

  it("type-checks and compiles under strict, with an Output for an option", () => {
    run(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "."], project);
    expect(fs.existsSync(path.join(project, "bin/index.js"))).toBe(true);
  });

  it("runs from its compiled JavaScript under mocks with plain node: two workers of 13 steps each", () => {
    const out = run(process.execPath, ["bin/mocked.js"], project);
    const result = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
      registrations: { type: string; name: string; parent: string }[];
      runtimeEndpoints: string[];
      refusedInput: string;
    };
    const components = result.registrations.filter((r) => r.type.endsWith(":ContainerdWorker"));
    expect(components.map((c) => c.name)).toEqual(["consumer-0", "consumer-1"]);
    for (const component of components) {
      // A URN ends in `<parent types>$<type>::<name>`.
      const steps = result.registrations.filter((r) => {
        const [qualifiedType = "", name] = r.parent.split("::").slice(-2);
        return (
          r.type === "command:remote:Command" &&
          qualifiedType.split("$").at(-1) === component.type &&
          name === component.name
        );
      });
      expect(steps).toHaveLength(STEPS_PER_WORKER);
    }
    expect(result.runtimeEndpoints).toEqual([
      "unix:///run/containerd/containerd.sock",
      "unix:///run/containerd/containerd.sock",
    ]);
    expect(result.refusedInput).toBe("downloadBaseUrl");
  });

  it("serves the component to other languages from the installed package: its schema, and a worker of 13 steps", async () => {
    // What `packages: containerd-worker: ./node_modules/containerd-worker` in a YAML program starts.
    const installedPackage = path.join(project, "node_modules", "containerd-worker");
    const provider = await startProvider({
      pluginDir: installedPackage,
      outputsFor: (type, name) => (name.endsWith("-verify") ? { stdout: verifyStdout("v2.3.1") } : {}),
    });
    try {
      const schema = await provider.getSchema();
      // The connection's types are @pulumi/command's, as installed (hostKey came in a later release): the rest
      // is the schema the package ships, whatever SDK within the peer ranges serves it.
      const ownTypes = (text: string) => {
        const parsed = JSON.parse(text) as { types: Record<string, unknown> };
        for (const key of Object.keys(parsed.types)) if (/:(Proxy)?ConnectionArgs$/.test(key)) delete parsed.types[key];
        return parsed;
      };
      expect(ownTypes(await formatSchema(schema))).toEqual(
        ownTypes(fs.readFileSync(path.join(installedPackage, "schema.json"), "utf8")),
      );
      await provider.construct("containerd-worker:index:ContainerdWorker", "yaml-0", {
        connection: { host: "192.0.2.10", user: "ubuntu", privateKey: secretWire("KEY") },
        detectHostDrift: false,
      });
      const steps = provider.registered.filter((r) => r.type === "command:remote:Command");
      expect(steps).toHaveLength(STEPS_PER_WORKER);
    } finally {
      await provider.stop();
    }
  }, 120_000);

  it("runs through the SDK's own entry with ts-node: two workers of 13 steps each, and the stack outputs", async () => {
    const engine = await serveEngine();
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        let stderr = "";
        const child = spawn(
          process.execPath,
          [
            path.join(project, "node_modules/@pulumi/pulumi/cmd/run"),
            `--monitor=${engine.address}`,
            `--engine=${engine.address}`,
            "--project=consumer",
            "--stack=dev",
            "--organization=organization",
            "--dry-run",
            "--parallel=16",
            `--pwd=${project}`,
            ".",
          ],
          {
            cwd: project,
            env: {
              ...process.env,
              PULUMI_NODEJS_TYPESCRIPT: "true",
              PULUMI_CONFIG: JSON.stringify({
                "consumer:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
                "consumer:downloadBaseUrl": "https://mirror.example",
              }),
              PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(["consumer:sshPrivateKey", "consumer:downloadBaseUrl"]),
            },
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("exit", (exitCode) => resolve({ code: exitCode, stderr }));
      });
      const errors = engine.logs.filter((log) => log.severity >= engpb.LogSeverity.ERROR).map((log) => log.message);
      expect({ code, errors, stderr }).toEqual({ code: 0, errors: [], stderr: "" });

      const stack = engine.registered.find((r) => r.type === "pulumi:pulumi:Stack");
      expect(stack).toBeDefined();
      const components = engine.registered.filter((r) => r.type.endsWith(":ContainerdWorker"));
      expect(components.map((c) => c.name)).toEqual(["consumer-0", "consumer-1"]);
      for (const component of components) {
        expect(component.parent).toBe(stack?.urn);
        const steps = engine.registered.filter((r) => r.parent === component.urn);
        expect(steps).toHaveLength(STEPS_PER_WORKER);
        for (const step of steps) expect(step.type).toBe("command:remote:Command");
      }
      expect(Object.keys(engine.outputs.get(stack?.urn ?? "") ?? {}).sort()).toEqual([
        "refusedInput",
        "runtimeEndpoints",
      ]);
    } finally {
      engine.close();
    }
  });
});

interface Registered {
  type: string;
  name: string;
  urn: string;
  parent: string;
}

/**
 * A resource monitor and an engine, enough for a program run: registrations answered with their inputs (unknown
 * outputs stay unknown in a preview), stack outputs and logs recorded, anything else unimplemented.
 */
async function serveEngine(): Promise<{
  address: string;
  registered: Registered[];
  outputs: Map<string, Record<string, unknown>>;
  logs: { severity: engpb.LogSeverity; message: string }[];
  close(): void;
}> {
  const registered: Registered[] = [];
  const outputs = new Map<string, Record<string, unknown>>();
  const logs: { severity: engpb.LogSeverity; message: string }[] = [];
  let root = "";
  const urnOf = (type: string, name: string, parent: string) => {
    const parentType = parent ? (parent.split("::")[2] ?? "") : "";
    const qualified = parentType && !parentType.endsWith("pulumi:pulumi:Stack") ? `${parentType}$${type}` : type;
    return `urn:pulumi:dev::consumer::${qualified}::${name}`;
  };
  type Call<Request> = grpc.ServerUnaryCall<Request, unknown>;
  type Reply = grpc.sendUnaryData<unknown>;
  const monitor: grpc.UntypedServiceImplementation = {};
  for (const method of Object.values(
    resrpc.ResourceMonitorService as unknown as Record<string, { originalName?: string }>,
  )) {
    if (method.originalName === undefined) continue;
    monitor[method.originalName] = (_call: unknown, reply: Reply) =>
      reply({ code: grpc.status.UNIMPLEMENTED, details: "not in this test's monitor" }, null);
  }
  Object.assign(monitor, {
    supportsFeature: (call: Call<respb.SupportsFeatureRequest>, reply: Reply) =>
      reply(
        null,
        new respb.SupportsFeatureResponse().setHassupport(
          ["secrets", "resourceReferences", "outputValues", "aliasSpecs"].includes(call.request.getId()),
        ),
      ),
    registerResource: (call: Call<respb.RegisterResourceRequest>, reply: Reply) => {
      const request = call.request;
      const urn = urnOf(request.getType(), request.getName(), request.getParent());
      registered.push({ type: request.getType(), name: request.getName(), urn, parent: request.getParent() });
      const response = new respb.RegisterResourceResponse()
        .setUrn(urn)
        .setObject(request.getObject() ?? new structpb.Struct());
      if (request.getCustom()) response.setId(`${request.getName()}-id`);
      reply(null, response);
    },
    registerResourceOutputs: (call: Call<respb.RegisterResourceOutputsRequest>, reply: Reply) => {
      outputs.set(call.request.getUrn(), call.request.getOutputs()?.toJavaScript() ?? {});
      reply(null, new emptypb.Empty());
    },
  });
  const engine = {
    log: (call: Call<engpb.LogRequest>, reply: Reply) => {
      logs.push({ severity: call.request.getSeverity(), message: call.request.getMessage() });
      reply(null, new emptypb.Empty());
    },
    getRootResource: (_call: unknown, reply: Reply) => reply(null, new engpb.GetRootResourceResponse().setUrn(root)),
    setRootResource: (call: Call<engpb.SetRootResourceRequest>, reply: Reply) => {
      root = call.request.getUrn();
      reply(null, new engpb.SetRootResourceResponse());
    },
  };
  const server = new grpc.Server();
  server.addService(resrpc.ResourceMonitorService, monitor);
  server.addService(engrpc.EngineService, engine);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, registered, outputs, logs, close: () => server.forceShutdown() };
}
