import { describe, expect, it } from "vitest";
import { resolveOptions } from "../components/options";
import { planWorker, STEP_IDS } from "../components/workerPlan";

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
  });

  it("removes what it installed on destroy, and nothing for steps that install nothing", () => {
    for (const id of ["runc", "containerd", "cni-plugins", "crictl", "config", "crictl-yaml", "unit", "verify"]) {
      expect(step(id).delete).toBeDefined();
    }
    expect(step("ready").delete).toBeUndefined();
    expect(step("restart").delete).toBeUndefined();
  });

  it("restarts containerd only on update, never on first create", () => {
    expect(step("restart").create).not.toContain("systemctl restart containerd");
    expect(step("restart").update).toContain("systemctl restart containerd");
  });

  it("names the worker and step in every failure message", () => {
    for (const s of plan.steps) expect(s.create).toContain(`containerd-worker: worker worker-0, step ${s.id}:`);
  });

  it("is deterministic", () => {
    expect(planWorker("worker-0", resolveOptions({}))).toEqual(plan);
  });
});
