import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { assessDrift, HostState, parseHostState, probeScript } from "../components/hostDrift";
import { DRIFTING_STEPS } from "../components/steps";

/** What the probe prints on a worker where everything is as the component left it. */
function inSync(extra: string[] = []): string {
  return [
    "service active active",
    "service enabled enabled",
    ...DRIFTING_STEPS.map((step) => `record ${step} checked`),
    "generation config 2",
    "generation unit 0",
    ...extra,
  ].join("\n");
}

describe("the probe script", () => {
  it("is POSIX sh that passes shellcheck and writes nothing", () => {
    const result = spawnSync("shellcheck", ["--shell", "sh", "-"], { input: probeScript(), encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
    expect(probeScript()).not.toMatch(/sudo|>\s*\/(?!dev\/null)|\brm |\bmv |\binstall |\btee /);
  });
});

describe("parseHostState", () => {
  it("reads service state, changed files and generations", () => {
    const state = parseHostState(
      inSync([
        `changed containerd /usr/local/bin/ctr ${"a".repeat(64)} ${"b".repeat(64)}`,
        "changed runc /usr/local/sbin/runc missing",
      ]),
    );
    expect(state).toEqual<HostState>({
      active: "active",
      enabled: "enabled",
      changed: {
        runc: ["/usr/local/sbin/runc is missing"],
        containerd: ["/usr/local/bin/ctr changed (sha256 bbbbbbbbbbbb… on the worker, aaaaaaaaaaaa… as put in place)"],
        "cni-plugins": [],
        crictl: [],
        config: [],
        registries: [],
        "crictl-yaml": [],
        unit: [],
      },
      generations: { config: 2, unit: 0 },
    });
  });
});

describe("assessDrift", () => {
  it("a worker as the component left it has no drift and keeps its generations", () => {
    const { drifts, generations, fresh } = assessDrift(parseHostState(inSync()));
    expect(fresh).toBe(false);
    expect(drifts).toEqual([]);
    expect(generations).toEqual({
      runc: 0,
      containerd: 0,
      "cni-plugins": 0,
      crictl: 0,
      config: 2,
      registries: 0,
      "crictl-yaml": 0,
      unit: 0,
    });
  });

  it("a bare worker is a first install, not drift", () => {
    const bare = parseHostState(
      ["service active inactive", "service enabled", ...DRIFTING_STEPS.map((step) => `record ${step} missing`)].join(
        "\n",
      ),
    );
    expect(assessDrift(bare)).toMatchObject({ fresh: true, drifts: [] });
  });

  it.each([
    [
      "an edited config",
      inSync([`changed config /etc/containerd/config.toml ${"c".repeat(64)} ${"e".repeat(64)}`]),
      "config",
      /^\/etc\/containerd\/config\.toml changed \(sha256 eeeeeeeeeeee… on the worker, cccccccccccc… as put in place\)$/,
    ],
    [
      "an edited hosts.toml",
      inSync([`changed registries /etc/containerd/certs.d/docker.io/hosts.toml ${"5".repeat(64)} ${"6".repeat(64)}`]),
      "registries",
      /^\/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml changed/,
    ],
    [
      "a removed crictl.yaml",
      inSync(["changed crictl-yaml /etc/crictl.yaml missing"]),
      "crictl-yaml",
      /^\/etc\/crictl\.yaml is missing$/,
    ],
    [
      "an edited unit",
      inSync([`changed unit /etc/systemd/system/containerd.service ${"1".repeat(64)} ${"2".repeat(64)}`]),
      "unit",
      /containerd\.service changed/,
    ],
    [
      "a stopped containerd",
      inSync().replace("service active active", "service active inactive"),
      "unit",
      /^containerd is inactive$/,
    ],
    [
      "a disabled containerd",
      inSync().replace("service enabled enabled", "service enabled disabled"),
      "unit",
      /^containerd is disabled at boot$/,
    ],
    [
      "a replaced plugin",
      inSync([`changed cni-plugins /opt/cni/bin/bridge ${"3".repeat(64)} ${"4".repeat(64)}`]),
      "cni-plugins",
      /\/opt\/cni\/bin\/bridge changed/,
    ],
    [
      "a lost record",
      inSync().replace("record crictl checked", "record crictl missing"),
      "crictl",
      /record of what it installed is missing/,
    ],
  ])("%s drifts step %s and bumps only its generation", (_what, probe, step, message) => {
    const { drifts, generations } = assessDrift(parseHostState(probe));
    expect(drifts.map((d) => d.step)).toEqual([step]);
    expect(drifts[0]?.what).toMatch(message);
    const before = assessDrift(parseHostState(inSync())).generations;
    for (const [name, value] of Object.entries(generations)) {
      expect(value).toBe((before as Record<string, number>)[name]! + (name === step ? 1 : 0));
    }
  });
});
