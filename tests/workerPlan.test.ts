import { describe, expect, it } from "vitest";
import { resolveOptions } from "../components/options";
import { STEP_IDS } from "../components/steps";
import { planWorker } from "../components/workerPlan";

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
    for (const id of [
      "runc",
      "containerd",
      "cni-plugins",
      "crictl",
      "config",
      "registries",
      "crictl-yaml",
      "unit",
      "verify",
    ]) {
      expect(step(id).delete).toBeDefined();
    }
    expect(step("ready").delete).toBeUndefined();
    expect(step("restart").delete).toBeUndefined();
  });

  it("restarts containerd only on update, never on first create", () => {
    expect(step("restart").create).toBeUndefined();
    expect(step("restart").update).toContain("systemctl restart containerd");
  });

  it("names the worker and step in every failure message", () => {
    for (const s of plan.steps)
      expect(s.create ?? s.update).toContain(`containerd-worker: worker worker-0, step ${s.id}:`);
  });

  it("records each drifting step's generation when it runs and forgets it on destroy", () => {
    const repaired = planWorker("worker-0", resolveOptions({}), { config: 3, "crictl-yaml": 1 });
    const stepOf = (id: string) => repaired.steps.find((s) => s.id === id);
    expect(stepOf("config")?.create).toContain("echo 3 >/var/lib/containerd-worker/config.generation");
    expect(stepOf("crictl-yaml")?.create).toContain("echo 1 >/var/lib/containerd-worker/crictl-yaml.generation");
    expect(stepOf("runc")?.create).toContain("echo 0 >/var/lib/containerd-worker/runc.generation");
    expect(stepOf("config")?.delete).toContain("rm -f -- /var/lib/containerd-worker/config.generation");
    // A repaired config restarts containerd: the restart step carries the config's generation.
    expect(stepOf("restart")?.update).toContain("[[ $config_generation == 3 ]]");
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
