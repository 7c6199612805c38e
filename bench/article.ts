/**
 * The article's own sequence (Steps 1–5), as one straight bash script for one
 * SSH session as `ubuntu` with sudo: the article's commands in the article's
 * order, with https://github.com replaced by the mirror's base URL and the
 * versions the mirror has. Two departures, both forced by the sandbox:
 *
 * - Step 4 curls containerd.service from raw.githubusercontent.com, which a
 *   worker cannot reach: the same unit text is written with a here-document
 *   (the component's renderContainerdUnit(), upstream's unit).
 * - Step 5's `crictl pull` / `crictl images` need a registry, which a worker
 *   cannot reach either: they are left out (the component does not pull).
 *
 * `@@mark <name> <epoch seconds>` lines on stdout split the run into the
 * article's steps; a `date` call costs about a millisecond.
 */
import { renderContainerdUnit } from "../components/render/containerdUnit";

export interface ArticleVersions {
  containerd: string;
  runc: string;
  cni: string;
  crictl: string;
}

/** The step boundaries the script marks, in order. */
export const ARTICLE_MARKS = ["start", "download", "install", "config", "unit", "verify"] as const;
export type ArticleMark = (typeof ARTICLE_MARKS)[number];

const UNIT_DELIMITER = "ARTICLE_CONTAINERD_UNIT";

export function articleScript(baseUrl: string, versions: ArticleVersions): string {
  const unit = renderContainerdUnit();
  if (unit.split("\n").includes(UNIT_DELIMITER)) throw new Error("the unit text contains the here-document delimiter");
  const base = baseUrl.replace(/\/+$/, "");
  const mark = (name: ArticleMark): string => `echo "@@mark ${name} $(date +%s.%N)"`;
  return [
    "# Stop at the first failing command (no pipefail: `runc --version | head -1` ends runc with SIGPIPE).",
    "set -eu",
    "# Ubuntu's PATH (/etc/environment): the article runs runc from /usr/local/sbin as ubuntu.",
    "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    mark("start"),
    "# Step 1 — Download the binaries",
    "cd /tmp",
    `CONTAINERD_VER=${versions.containerd}`,
    `RUNC_VER=${versions.runc}`,
    `CNI_VER=${versions.cni}`,
    `CRICTL_VER=${versions.crictl}`,
    `BASE=${base}`,
    "curl -fsSL -O ${BASE}/containerd/containerd/releases/download/v${CONTAINERD_VER}/containerd-${CONTAINERD_VER}-linux-amd64.tar.gz",
    "curl -fsSL -O ${BASE}/opencontainers/runc/releases/download/v${RUNC_VER}/runc.amd64",
    "curl -fsSL -O ${BASE}/containernetworking/plugins/releases/download/v${CNI_VER}/cni-plugins-linux-amd64-v${CNI_VER}.tgz",
    "curl -fsSL -O ${BASE}/kubernetes-sigs/cri-tools/releases/download/v${CRICTL_VER}/crictl-v${CRICTL_VER}-linux-amd64.tar.gz",
    "ls -la *.tar.gz *.tgz runc.amd64",
    mark("download"),
    "# Step 2 — Install into the right places",
    "sudo tar Cxzvf /usr/local containerd-${CONTAINERD_VER}-linux-amd64.tar.gz",
    "sudo install -m 755 runc.amd64 /usr/local/sbin/runc",
    "sudo mkdir -p /opt/cni/bin",
    "sudo tar Cxzvf /opt/cni/bin cni-plugins-linux-amd64-v${CNI_VER}.tgz",
    "sudo tar Cxzvf /usr/local/bin crictl-v${CRICTL_VER}-linux-amd64.tar.gz",
    "containerd --version",
    "runc --version | head -1",
    "crictl --version",
    "ls /opt/cni/bin",
    mark("install"),
    "# Step 3 — Generate and edit the containerd config",
    "sudo mkdir -p /etc/containerd",
    "containerd config default | sudo tee /etc/containerd/config.toml >/dev/null",
    "grep -E '^version' /etc/containerd/config.toml",
    "grep -n 'SystemdCgroup' /etc/containerd/config.toml",
    "sudo sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml",
    "grep -n 'SystemdCgroup' /etc/containerd/config.toml",
    mark("config"),
    "# Step 4 — systemd unit and startup (the unit text, not a curl from raw.githubusercontent.com)",
    `sudo tee /etc/systemd/system/containerd.service >/dev/null <<'${UNIT_DELIMITER}'`,
    unit.replace(/\n$/, ""),
    UNIT_DELIMITER,
    "sudo systemctl daemon-reload",
    "sudo systemctl enable --now containerd",
    "systemctl is-active containerd",
    mark("unit"),
    "# Step 5 — Verify with crictl (no pull: the worker has no registry)",
    "sudo tee /etc/crictl.yaml >/dev/null <<'EOF'",
    "runtime-endpoint: unix:///run/containerd/containerd.sock",
    "image-endpoint: unix:///run/containerd/containerd.sock",
    "timeout: 10",
    "EOF",
    "sudo crictl version",
    "sudo crictl info | grep -iE 'lastCNILoadStatus|SystemdCgroup'",
    mark("verify"),
    "",
  ].join("\n");
}

/** The marks a run printed, as epoch milliseconds. */
export function parseMarks(stdout: string): Partial<Record<ArticleMark, number>> {
  const marks: Partial<Record<ArticleMark, number>> = {};
  for (const match of stdout.matchAll(/^@@mark (\w+) (\d+\.\d+)$/gm)) {
    const name = match[1] as ArticleMark;
    if ((ARTICLE_MARKS as readonly string[]).includes(name)) marks[name] = Number(match[2]) * 1000;
  }
  return marks;
}
