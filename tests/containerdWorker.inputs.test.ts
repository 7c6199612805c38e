/**
 * Issue 12: every argument of ContainerdWorker takes a `pulumi.Input`. A value known only later is
 * checked once it resolves, with the message the plain value gets at construction, and a worker
 * given Outputs registers the same steps with the same texts as one given the plain values.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerdWorker } from "../components/containerdWorker";
import { ContainerdWorkerArgs } from "../components/args/containerdWorkerArgs";
import { STEP_IDS } from "../components/catalog/stepIds";
import { Arch } from "../components/catalog/catalog";
import { resolveOptions } from "../components/inputs/options";
import { planWorker } from "../components/plan/workerPlan";
import { verifyStdout } from "./programStack";
import { installMocks, isSecretValue, MockedRun, settle, valueOf } from "./pulumiMocks";

function stdoutOf(step: string): string {
  if (step.endsWith("-verify")) return verifyStdout("v2.3.1");
  if (step.endsWith("-ready")) return `arch=${step.includes("arm") ? "arm64" : "amd64"}\nkernel=6.8.0\n`;
  return "";
}

let run: MockedRun;
beforeAll(() => {
  run = installMocks({
    outputsFor: (type, name) => (type === "command:remote:Command" ? { stdout: stdoutOf(name), stderr: "" } : {}),
  });
});

type Options = Omit<ContainerdWorkerArgs, "connection">;

function worker(name: string, args: Options): ContainerdWorker {
  return new ContainerdWorker(name, {
    connection: { host: `${name}.example`, user: "ubuntu", privateKey: pulumi.secret("key") },
    detectHostDrift: false,
    ...args,
  });
}

/** What each step registered: its texts, as the plan of the plain arguments has them. */
function textsOf(name: string): Record<string, unknown> {
  return Object.fromEntries(
    STEP_IDS.map((id) => {
      const { create, update, delete: remove, stdin } = run.byName(`${name}-${id}`).inputs;
      return [id, { create, update, delete: remove, stdin }];
    }),
  );
}

function plannedTexts(name: string, args: Options, arch: Arch): Record<string, unknown> {
  const plan = planWorker(name, resolveOptions(args), {}, arch);
  return Object.fromEntries(
    plan.steps.map(({ id, create, update, delete: remove, stdin }) => [id, { create, update, delete: remove, stdin }]),
  );
}

/** Why an Output failed (the SDK's own promise: `apply` never runs for a failed one). */
function failureOf(output: pulumi.Output<unknown>): Promise<unknown> {
  const inner = output as unknown as { promise(): Promise<unknown> };
  return inner.promise().then(
    () => undefined,
    (error: unknown) => error,
  );
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The same arguments with every value an Output. */
function asOutputs(args: Options): Options {
  return Object.fromEntries(Object.entries(args).map(([key, value]) => [key, pulumi.output(value)]));
}

describe("every argument takes an Output", () => {
  it("sandboxImage: pulumi.output(...) is used as the plain value would be", async () => {
    const image = "registry.k8s.io/pause:3.10";
    const given = worker("image-output", { sandboxImage: pulumi.output(image) });
    expect(await valueOf(given.sandboxImage)).toBe(image);
    expect(await valueOf(given.config)).toContain(`"${image}"`);
    await valueOf(given.runtimeVersion);
    await settle();
    expect(String((run.byName("image-output-config").inputs.stdin as string) ?? "")).toContain(image);
  });

  it.each<[string, Options]>([
    ["versions", { versions: { containerd: "2.1.9", crictl: "1.35.0" } }],
    ["arch", { arch: "arm64" }],
    ["arch auto", { arch: "auto" }],
    ["sandboxImage", { sandboxImage: "registry.k8s.io/pause:3.10" }],
    ["systemdCgroup", { systemdCgroup: false }],
    ["checksums", { checksums: { runc: "a".repeat(64) } }],
    ["purgeStateOnDestroy", { purgeStateOnDestroy: true }],
    ["staticBuild", { staticBuild: true }],
    ["readyTimeoutSeconds", { readyTimeoutSeconds: 600 }],
    ["containerdSettings", { containerdSettings: { snapshotter: "native" } }],
    ["containerdSettings after versions", { versions: { containerd: "1.7.24" }, containerdSettings: {} }],
    ["downloadBaseUrl", { downloadBaseUrl: "https://mirror.internal/gh" }],
    ["httpProxy", { httpProxy: { http: "http://proxy:3128" } }],
    ["registries", { registries: { "docker.io": { server: "https://hub.internal" } } }],
    ["detectHostDrift", { detectHostDrift: false }],
  ])("%s: the steps are those the plain value plans", async (what, args) => {
    const name = `output-${what.startsWith("arch") ? "arm-" : ""}${what.replace(/\W+/g, "-")}`;
    const later = worker(name, asOutputs(args));
    await valueOf(later.runtimeVersion);
    await settle();
    const arch = await valueOf(later.arch);
    expect(arch).toBe(
      args.arch === "auto" || args.arch === undefined ? (name.includes("arm") ? "arm64" : "amd64") : args.arch,
    );
    expect(textsOf(name)).toEqual(plannedTexts(name, args, arch));
    expect(await valueOf(later.config)).toBe(planWorker(name, resolveOptions(args as never), {}, arch).config.text);
  });

  it("a secret sandboxImage makes the scripts that carry it secret", async () => {
    const given = worker("image-secret", { sandboxImage: pulumi.secret("registry.k8s.io/pause:3.10") });
    await valueOf(given.runtimeVersion);
    await settle();
    expect(isSecretValue(run.byName("image-secret-config").inputs.stdin)).toBe(true);
    expect(await pulumi.isSecret(given.sandboxImage)).toBe(true);
  });
});

describe("an invalid Output fails once known, with the plain value's message", () => {
  // Each step waiting for the bad value fails to register with the component's error, as a program's
  // run would report it; here those rejections are collected instead of ending the test run.
  const rejections: unknown[] = [];
  const collect = (reason: unknown) => void rejections.push(reason);
  let saved: NodeJS.UnhandledRejectionListener[] = [];
  beforeAll(() => {
    saved = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", collect);
  });
  afterAll(() => {
    process.off("unhandledRejection", collect);
    for (const listener of saved) process.on("unhandledRejection", listener);
  });

  it.each<[string, Options]>([
    ["sandboxImage", { sandboxImage: "pause 3.10" }],
    ["arch", { arch: "riscv64" as never }],
    ["readyTimeoutSeconds", { readyTimeoutSeconds: 0 }],
    ["versions", { versions: { containerd: "latest" } }],
    ["staticBuild", { staticBuild: "yes" as unknown as boolean }],
    ["containerdSettings", { containerdSettings: { snapshoter: "native" } as never }],
  ])("%s", async (what, args) => {
    let plainMessage = "";
    try {
      worker(`bad-${what}`, args);
    } catch (error) {
      expect(error).toBeInstanceOf(pulumi.ResourceError);
      plainMessage = (error as Error).message;
    }
    expect(plainMessage).toMatch(new RegExp(`^ContainerdWorker bad-${what}: invalid ${what}`));
    const later = worker(`bad-${what}`, asOutputs(args));
    const failure = await failureOf(later.config);
    expect(failure).toBeInstanceOf(pulumi.ResourceError);
    expect((failure as Error).message).toMatch(new RegExp(`(^|: )${escape(plainMessage)}$`));
    await settle();
    // Each step that waited for it fails with it (the SDK names the property it was serializing).
    const mine = rejections.filter((reason) => String((reason as Error).message).includes(`bad-${what}:`));
    expect(mine.length).toBeGreaterThan(0);
    for (const reason of mine) expect((reason as Error).message).toMatch(new RegExp(`: ${escape(plainMessage)}$`));
  });
});
