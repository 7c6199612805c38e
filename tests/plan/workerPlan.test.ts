import { describe, expect, it } from "vitest";
import { resolveOptions } from "../../components/inputs/options";
import { DRIFTING_STEPS, STEP_IDS } from "../../components/catalog/stepIds";
import { planWorker } from "../../components/plan/workerPlan";

const plan = planWorker("worker-0", resolveOptions({}));
const step = (id: string) => {
  const found = plan.steps.find((s) => s.id === id);
  if (!found) throw new Error(id);
  return found;
};

describe("planWorker", () => {
  it("lists each step once, every dependency before its dependents", () => {
    expect(plan.steps.map((s) => s.id).sort()).toEqual([...STEP_IDS].sort());
    const seen = new Set<string>();
    for (const s of plan.steps) {
      for (const dep of s.dependsOn) expect(seen.has(dep)).toBe(true);
      seen.add(s.id);
    }
  });

  it("sends each file's exact content on stdin", () => {
    expect(step("config").stdin).toBe(plan.config.text);
    expect(step("unit").stdin).toBe(plan.unit);
    expect(step("crictl-yaml").stdin).toBe(plan.crictlConfig);
    expect(step("registries").stdin).toBe(plan.registryStream);
  });

  it("sends the registry files on stdin and never restarts containerd for them", () => {
    const withMirror = planWorker(
      "worker-0",
      resolveOptions({ registries: { "docker.io": { mirrors: [{ host: "http://10.0.0.5:5000" }] } } }),
    );
    const registries = withMirror.steps.find((s) => s.id === "registries");
    expect(registries?.stdin).toBe(
      '=== docker.io/hosts.toml\n|[host."http://10.0.0.5:5000"]\n|capabilities = [ "pull", "resolve" ]\n',
    );
    expect(step("registries").stdin).toBe("");
    // Containerd reads hosts.toml on every pull: nothing that restarts it waits for, or changes with, the files.
    for (const id of ["unit", "restart"]) {
      expect(step(id).dependsOn).not.toContain("registries");
      expect(withMirror.steps.find((s) => s.id === id)).toEqual(step(id));
    }
  });

  it("removes what it installed on destroy, and nothing for steps that install nothing", () => {
    for (const id of [...DRIFTING_STEPS, "verify", "reset"]) {
      expect(step(id).delete).toBeDefined();
    }
    expect(step("ready").delete).toBeUndefined();
    expect(step("restart").delete).toBeUndefined();
  });

  it("waits for cloud-init until readyTimeoutSeconds after boot, and names the timeout when it runs out", () => {
    const ready = planWorker("worker-0", resolveOptions({ readyTimeoutSeconds: 45 })).steps.find(
      (s) => s.id === "ready",
    );
    expect(ready?.create).toContain("ready_timeout='45'");
    expect(ready?.create).toContain("left=$(( ready_timeout - since_boot ))");
    expect(ready?.create).toContain('timeout "$left" cloud-init status --wait');
    expect(ready?.create).toContain("cloud-init has not finished $ready_timeout s after boot (readyTimeoutSeconds;");
    expect(step("ready").create).toContain("ready_timeout='300'");
  });

  it("restarts containerd only on update, never on first create", () => {
    expect(step("restart").create).toBeUndefined();
    expect(step("restart").update).toContain("systemctl restart containerd");
  });

  it("names the worker and step in every failure message", () => {
    for (const s of plan.steps)
      expect(s.create ?? s.update ?? s.delete).toContain(`containerd-worker: worker worker-0, step ${s.id}:`);
  });

  it("stops the containers on destroy before the unit step stops containerd, with every tool still installed", () => {
    // The engine deletes dependents first: reset's delete runs before those of unit, containerd (ctr), runc and crictl.
    const dependsOn = (id: string, on: string): boolean =>
      step(id).dependsOn.some((dep) => dep === on || dependsOn(dep, on));
    for (const tool of ["unit", "containerd", "runc", "crictl"]) expect(dependsOn("reset", tool), tool).toBe(true);
    expect(step("reset").delete).toContain("tasks kill --signal SIGTERM");
  });

  it("acts only on destroy, so setting purgeStateOnDestroy runs nothing on the worker and changes only reset", () => {
    expect(step("reset").create).toBeUndefined();
    expect(step("reset").update).toBeUndefined();
    const purging = planWorker("worker-0", resolveOptions({ purgeStateOnDestroy: true }));
    const changed = purging.steps
      .filter((s, i) => JSON.stringify(s) !== JSON.stringify(plan.steps[i]))
      .map((s) => s.id);
    expect(changed).toEqual(["reset"]);
    expect(step("reset").delete).not.toContain("rm -rf");
    expect(purging.steps.find((s) => s.id === "reset")?.delete).toContain("rm -rf --one-file-system");
  });

  it("records each drifting step's generation when it runs and forgets it on destroy", () => {
    const repaired = planWorker("worker-0", resolveOptions({}), { config: 3, "crictl-yaml": 1 });
    const stepOf = (id: string) => repaired.steps.find((s) => s.id === id);
    expect(stepOf("config")?.create).toContain("echo 3 >/var/lib/containerd-worker/config.generation");
    expect(stepOf("crictl-yaml")?.create).toContain("echo 1 >/var/lib/containerd-worker/crictl-yaml.generation");
    expect(stepOf("runc")?.create).toContain("echo 0 >/var/lib/containerd-worker/runc.generation");
    expect(stepOf("config")?.delete).toContain("rm -f -- /var/lib/containerd-worker/config.generation");
    // A repaired config restarts containerd: the restart step carries the config's generation.
    expect(stepOf("restart")?.update).toContain("expected_generation='3'");
    expect(stepOf("restart")?.update).not.toBe(step("restart").update);
    // Only the repaired steps (and verify, which follows every change) differ.
    const changed = repaired.steps
      .filter((s, i) => JSON.stringify(s) !== JSON.stringify(plan.steps[i]))
      .map((s) => s.id);
    expect(changed).toEqual(["config", "crictl-yaml", "restart", "verify"]);
  });

  it("is deterministic", () => {
    expect(planWorker("worker-0", resolveOptions({}))).toEqual(plan);
  });
});

describe("a script too long for one command", () => {
  it("is refused at plan time, naming containerdSettings and the step", () => {
    const options = resolveOptions({
      containerdSettings: { extraConfig: { timeouts: { "io.containerd.timeout.shim.cleanup": "x".repeat(70_000) } } },
    });
    expect(() => planWorker("worker-0", options)).toThrow(
      /invalid containerdSettings: makes the verify step's script \d+ KiB, over the 120 KiB/,
    );
  });
});

describe("a fleet's shared renders", () => {
  it("renders the config once for workers with the same options, and anew for other settings", () => {
    const options = resolveOptions({ sandboxImage: "registry.k8s.io/pause:3.10" });
    const first = planWorker("fleet-a", options);
    const second = planWorker("fleet-b", resolveOptions({ sandboxImage: "registry.k8s.io/pause:3.10" }));
    expect(second.config).toBe(first.config);
    expect(second.crictlConfig).toBe(first.crictlConfig);

    const other = planWorker("fleet-c", resolveOptions({ sandboxImage: "registry.k8s.io/pause:3.9" }));
    expect(other.config).not.toBe(first.config);
    expect(other.config.text).toContain("registry.k8s.io/pause:3.9");
  });

  it("still names each worker in its own scripts", () => {
    const options = resolveOptions({});
    const [a, b] = [planWorker("fleet-a", options), planWorker("fleet-b", options)];
    const create = (plan: typeof a, id: string) => plan.steps.find((step) => step.id === id)?.create ?? "";
    expect(create(a, "containerd")).toContain("worker fleet-a, step containerd");
    expect(create(b, "containerd")).toContain("worker fleet-b, step containerd");
    expect(create(b, "containerd")).not.toContain("fleet-a");
  });
});
