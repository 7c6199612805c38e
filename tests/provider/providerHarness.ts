/**
 * Starts the component provider as its own process, as the Node.js language host does (`node
 * @pulumi/pulumi/cmd/run-plugin <plugin dir> <engine address>`), and talks to it over gRPC with no Pulumi CLI:
 * GetSchema, and Construct against a resource monitor and engine served here, which record what the component
 * registers and answer every custom resource with its inputs (no command runs anywhere).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as structpb from "google-protobuf/google/protobuf/struct_pb";
import * as emptypb from "google-protobuf/google/protobuf/empty_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provpb from "@pulumi/pulumi/proto/provider_pb";
import * as resrpc from "@pulumi/pulumi/proto/resource_grpc_pb";
import * as respb from "@pulumi/pulumi/proto/resource_pb";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engpb from "@pulumi/pulumi/proto/engine_pb";

/** The plugin directory: PulumiPlugin.yaml, package.json and tsconfig.json of the component package. */
export const PLUGIN_DIR = path.join(__dirname, "..", "..", "components");

export const PROJECT = "proj";
export const STACK = "dev";
export const STACK_URN = `urn:pulumi:${STACK}::${PROJECT}::pulumi:pulumi:Stack::${PROJECT}-${STACK}`;

/** How the wire marks a secret (rpc.specialSigKey / specialSecretSig). */
export const secretWire = (value: unknown) => ({
  "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  value,
});

export interface Registered {
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  urn: string;
  dependencies: string[];
  inputs: Record<string, unknown>;
}

export interface ConstructResult {
  urn: string;
  state: Record<string, unknown>;
}

export interface RunningProvider {
  /** The provider's GetSchema answer, parsed. */
  getSchema(): Promise<Record<string, unknown>>;
  construct(type: string, name: string, inputs: Record<string, unknown>): Promise<ConstructResult>;
  /** Every RegisterResource the provider sent to the monitor, in order. */
  registered: Registered[];
  /** Engine log messages (severity, message). */
  logs: string[];
  stop(): Promise<void>;
}

/** The engine's URN: the parent's qualified type chain + "$" + type (the root stack is not part of it). */
function urnOf(type: string, name: string, parentUrn: string): string {
  const parentType = parentUrn ? parentUrn.split("::")[2] : undefined;
  const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
  return `urn:pulumi:${STACK}::${PROJECT}::${qualified}::${name}`;
}

type Handler = (call: { request: unknown }, callback: grpc.sendUnaryData<unknown>) => void;

/** Every method of a service: ours, else UNIMPLEMENTED (so a call the provider makes unexpectedly shows). */
function withUnimplemented(service: grpc.ServiceDefinition, handlers: Record<string, Handler>) {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(service)) {
    const key = method.originalName ?? name;
    out[key] =
      handlers[key] ??
      ((_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not served by the test` }, null));
  }
  return out;
}

function unary<Req, Res>(client: grpc.Client, method: string, request: Req): Promise<Res> {
  const fn = (client as unknown as Record<string, (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[
    method
  ];
  if (!fn) throw new Error(`no gRPC method ${method}`);
  return new Promise((resolve, reject) => fn.call(client, request, (e, r) => (e ? reject(e) : resolve(r))));
}

/** Waits for the provider's first stdout line, its port. */
function providerPort(child: ChildProcess, output: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (data: Buffer) => {
      buffer += data.toString();
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      const line = buffer.slice(0, newline).trim();
      if (/^\d+$/.test(line)) resolve(Number(line));
      else reject(new Error(`the provider's first line is not its port: ${JSON.stringify(line)}\n${output()}`));
    });
    child.on("exit", (code) => reject(new Error(`the provider exited (${String(code)}) before serving\n${output()}`)));
  });
}

export interface ProviderOptions {
  pluginDir?: string;
  /** Outputs a custom resource reports besides its inputs (a command's stdout, say). */
  outputsFor?: (type: string, name: string) => Record<string, unknown>;
}

export async function startProvider(options: ProviderOptions = {}): Promise<RunningProvider> {
  const pluginDir = options.pluginDir ?? PLUGIN_DIR;
  const registered: Registered[] = [];
  const logs: string[] = [];
  const monitor: Record<string, Handler> = {
    supportsFeature(call, callback) {
      const id = (call.request as respb.SupportsFeatureRequest).getId();
      const supported = ["secrets", "resourceReferences", "outputValues", "aliasSpecs", "deletedWith"].includes(id);
      callback(null, new respb.SupportsFeatureResponse().setHassupport(supported));
    },
    registerResource(call, callback) {
      const request = call.request as respb.RegisterResourceRequest;
      const urn = urnOf(request.getType(), request.getName(), request.getParent());
      const inputs = (request.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
      registered.push({
        type: request.getType(),
        name: request.getName(),
        parent: request.getParent(),
        custom: request.getCustom(),
        urn,
        dependencies: request.getDependenciesList(),
        inputs,
      });
      const response = new respb.RegisterResourceResponse().setUrn(urn);
      if (request.getCustom()) response.setId(`${request.getName()}-id`);
      // The state is the inputs, plus the outputs a remote.Command adds, empty.
      const extra = options.outputsFor?.(request.getType(), request.getName()) ?? {};
      const state = request.getCustom() ? { stdout: "", stderr: "", ...inputs, ...extra } : {};
      response.setObject(structpb.Struct.fromJavaScript(state));
      callback(null, response);
    },
    registerResourceOutputs(_call, callback) {
      callback(null, new emptypb.Empty());
    },
  };
  const engine: Record<string, Handler> = {
    log(call, callback) {
      const request = call.request as engpb.LogRequest;
      logs.push(`[${request.getSeverity()}] ${request.getMessage()}`);
      callback(null, new emptypb.Empty());
    },
    getRootResource(_call, callback) {
      callback(null, new engpb.GetRootResourceResponse().setUrn(STACK_URN));
    },
    setRootResource(_call, callback) {
      callback(null, new engpb.SetRootResourceResponse());
    },
  };
  const server = new grpc.Server();
  server.addService(resrpc.ResourceMonitorService, withUnimplemented(resrpc.ResourceMonitorService, monitor));
  server.addService(engrpc.EngineService, withUnimplemented(engrpc.EngineService, engine));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const address = `127.0.0.1:${port}`;

  // As pulumi-language-nodejs RunPlugin starts it; ts-node reads tsconfig.json from the working directory.
  // The SDK the plugin itself resolves, as the language host runs it: one copy in the process.
  const runPlugin = require.resolve("@pulumi/pulumi/cmd/run-plugin", { paths: [pluginDir] });
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // a test runner's loaders must not reach the provider
  const child = spawn(process.execPath, [runPlugin, pluginDir, address], {
    cwd: pluginDir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (data: Buffer) => (stderr += data.toString()));
  let client: provrpc.ResourceProviderClient | undefined;
  const stop = async () => {
    client?.close();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await exited;
    }
    server.forceShutdown();
  };
  try {
    const listening = await providerPort(child, () => stderr);
    client = new provrpc.ResourceProviderClient(`127.0.0.1:${listening}`, grpc.credentials.createInsecure());
  } catch (error) {
    await stop();
    throw error;
  }
  const provider = client;
  return {
    registered,
    logs,
    stop,
    async getSchema() {
      const response = await unary<provpb.GetSchemaRequest, provpb.GetSchemaResponse>(
        provider,
        "getSchema",
        new provpb.GetSchemaRequest(),
      );
      return JSON.parse(response.getSchema()) as Record<string, unknown>;
    },
    async construct(type, name, inputs) {
      const request = new provpb.ConstructRequest()
        .setProject(PROJECT)
        .setStack(STACK)
        .setOrganization("organization")
        .setDryrun(true)
        .setParallel(16)
        .setMonitorendpoint(address)
        .setType(type)
        .setName(name)
        .setParent(STACK_URN)
        .setAcceptsOutputValues(true)
        .setInputs(structpb.Struct.fromJavaScript(inputs as Record<string, structpb.JavaScriptValue>));
      const response = await unary<provpb.ConstructRequest, provpb.ConstructResponse>(provider, "construct", request);
      return { urn: response.getUrn(), state: response.getState()?.toJavaScript() ?? {} };
    },
  };
}
