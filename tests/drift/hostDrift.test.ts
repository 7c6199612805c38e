import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PATHS } from "../../components/catalog/catalog";
import { adoptionMessage, assessDrift, HostState, parseHostState, probeScript } from "../../components/drift/hostDrift";
import { DRIFTING_STEPS } from "../../components/catalog/stepIds";

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
    // Root only for the digest of a root-only file the component wrote.
    expect(probeScript()).not.toMatch(/sudo(?! -n sha256sum )|>\s*\/(?!dev\/null)|\brm |\bmv |\binstall |\btee /);
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
      unowned: {},
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

describe("files the component will adopt", () => {
  it("the probe names the files where a step writes that its record does not list, and only those", () => {
    // The probe run by sh over a scratch root holding a worker half set up by hand.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "probe-"));
    try {
      const put = (p: string, content: string, mode: number) => {
        fs.mkdirSync(path.dirname(`${root}${p}`), { recursive: true });
        fs.writeFileSync(`${root}${p}`, content, { mode });
        fs.chmodSync(`${root}${p}`, mode);
      };
      put("/etc/containerd/config.toml", "# by hand\n", 0o644);
      put("/opt/cni/bin/bridge", "#!/bin/sh\n", 0o755);
      put("/opt/cni/bin/LICENSE", "Apache\n", 0o644);
      put("/usr/local/bin/containerd-shim-runc-v2", "#!/bin/sh\n", 0o755);
      put("/usr/local/bin/unrelated-tool", "#!/bin/sh\n", 0o755);
      // runc is the component's: its record lists it.
      put("/usr/local/sbin/runc", "#!/bin/sh\n", 0o755);
      const runc = spawnSync("sha256sum", [`${root}/usr/local/sbin/runc`], { encoding: "utf8" }).stdout;
      put(`${PATHS.manifestDir}/runc.files`, runc, 0o644);
      const script = ["/etc/", "/usr/local/", "/opt/cni/", PATHS.manifestDir].reduce(
        (text, prefix) => text.replaceAll(prefix, `${root}${prefix}`),
        probeScript(),
      );
      const result = spawnSync("sh", ["-c", `systemctl() { :; }\n${script}`], { encoding: "utf8" });
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
      const { adoptions, fresh, drifts } = assessDrift(parseHostState(result.stdout));
      expect(adoptions).toEqual([
        { step: "containerd", paths: [`${root}/usr/local/bin/containerd-shim-runc-v2`] },
        { step: "cni-plugins", paths: [`${root}/opt/cni/bin/bridge`] },
        { step: "config", paths: [`${root}/etc/containerd/config.toml`] },
      ]);
      // Files of the operator's are not drift: only the steps without a record are (runc has one).
      expect(drifts.filter((drift) => !drift.what.includes("record of what it installed is missing"))).toEqual([
        { step: "unit", what: "containerd is not loaded" },
        { step: "unit", what: "containerd is not installed at boot" },
      ]);
      expect(fresh).toBe(false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("a worker as the component left it has nothing to adopt", () => {
    expect(assessDrift(parseHostState(inSync())).adoptions).toEqual([]);
  });

  it("the warning names the worker, the step, the paths, where the copies go and that destroy puts them back", () => {
    const one = adoptionMessage("worker-0", { step: "config", paths: ["/etc/containerd/config.toml"] }, true);
    expect(one).toBe(
      "adopting on worker worker-0, step config: /etc/containerd/config.toml is on the worker but not the " +
        "component's; the next up keeps it aside in /var/lib/containerd-worker/adopted/config before overwriting it, " +
        "and destroy puts it back",
    );
    const two = adoptionMessage(
      "w",
      { step: "containerd", paths: ["/usr/local/bin/containerd", "/usr/local/bin/ctr"] },
      false,
    );
    expect(two).toContain("step containerd: /usr/local/bin/containerd, /usr/local/bin/ctr are on the worker");
    expect(two).toContain(
      "this up keeps each one it overwrites aside in /var/lib/containerd-worker/adopted/containerd",
    );
  });
});
