/**
 * Where this machine gets Debian's packages: the sandbox roots (debootstrap), the
 * mirror's .deb downloads and the static containerd build all use the same archive.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export interface AptSource {
  uri: string;
  signedBy?: string;
}

/**
 * The Debian archive the machine's own apt sources name for its release's main suite (deb822 `.sources` and
 * one-line `.list` files alike), with its keyring. `E2E_DEBIAN_ARCHIVE` overrides the URI.
 */
export function debianArchive(): AptSource {
  const override = process.env.E2E_DEBIAN_ARCHIVE;
  if (override) return { uri: override.replace(/\/+$/, "") };
  const osRelease = fs.readFileSync("/etc/os-release", "utf8");
  const codename = /^VERSION_CODENAME=["']?([^"'\n]*)/m.exec(osRelease)?.[1];
  const entries: { types: string[]; uris: string[]; suites: string[]; components: string[]; signedBy?: string }[] = [];

  const files = ["/etc/apt/sources.list"];
  const partsDir = "/etc/apt/sources.list.d";
  if (fs.existsSync(partsDir)) {
    for (const n of fs.readdirSync(partsDir).sort()) files.push(path.join(partsDir, n));
  }
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, "utf8");
    if (file.endsWith(".sources")) {
      // deb822: stanzas separated by blank lines, "Key: value" fields.
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (key: string): string[] => {
          const m = new RegExp(`^${key}:[ \\t]*(.*)$`, "mi").exec(stanza.replace(/^#.*$/gm, ""));
          return m?.[1] ? m[1].trim().split(/\s+/) : [];
        };
        if (/^Enabled:\s*no/im.test(stanza)) continue;
        entries.push({
          types: field("Types"),
          uris: field("URIs"),
          suites: field("Suites"),
          components: field("Components"),
          signedBy: field("Signed-By")[0],
        });
      }
    } else if (file.endsWith(".list")) {
      for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*$/, "").trim();
        const m = /^(deb)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
        if (!m || !m[3] || !m[4]) continue;
        const signedBy = /signed-by=(\S+)/.exec(m[2] ?? "")?.[1];
        entries.push({ types: ["deb"], uris: [m[3]], suites: [m[4]], components: (m[5] ?? "").split(/\s+/), signedBy });
      }
    }
  }
  const isMain = (e: (typeof entries)[number]): boolean =>
    e.types.includes("deb") && e.components.includes("main") && e.uris.length > 0;
  const chosen =
    entries.find((e) => isMain(e) && codename !== undefined && e.suites.includes(codename)) ??
    entries.find((e) => isMain(e) && e.suites.some((s) => /^[a-z]+$/.test(s)));
  const uri = chosen?.uris[0];
  if (!chosen || !uri) {
    throw new Error("no Debian archive found in the apt sources (/etc/apt/sources.list{,.d})");
  }
  return { uri: uri.replace(/\/+$/, ""), signedBy: chosen.signedBy };
}
