/**
 * Renders containerd's per-registry host files: `/etc/containerd/certs.d/<registry>/hosts.toml`
 * and the CA certificates they point to. containerd reads them on every pull (through
 * `config_path`, which config.toml always sets), so changing them needs no restart.
 *
 * Pure: the same registries give the same files, in the same order, so an
 * unchanged set gives the engine nothing to run.
 */
import * as TOML from "@iarna/toml";
import { PATHS } from "../catalog/catalog";
import { RegistryHosts, RegistryMirror } from "../inputs/registries";

/** A file under `PATHS.registryConfigDir`: `path` is relative to it (`docker.io/hosts.toml`). */
export interface RegistryFile {
  path: string;
  content: string;
}

function caFileName(index: number): string {
  return `ca-${index}.crt`;
}

function hostTable(registry: string, mirror: RegistryMirror, index: number): TOML.JsonMap {
  const table: TOML.JsonMap = { capabilities: mirror.capabilities };
  if (mirror.caPem !== undefined) table.ca = `${PATHS.registryConfigDir}/${registry}/${caFileName(index)}`;
  if (mirror.skipVerify !== undefined) table.skip_verify = mirror.skipVerify;
  if (mirror.overridePath !== undefined) table.override_path = mirror.overridePath;
  if (mirror.headers !== undefined) {
    // One value as a string, several as a list: both are what containerd's hosts.toml takes.
    table.header = Object.fromEntries(
      Object.entries(mirror.headers).map(([name, values]) => [name, values.length === 1 ? (values[0] ?? "") : values]),
    );
  }
  return table;
}

/** The hosts.toml of one registry. Mirrors keep their order: containerd tries them in file order. */
export function renderHostsToml(registry: string, hosts: RegistryHosts): string {
  const document: TOML.JsonMap = {};
  if (hosts.server !== undefined) document.server = hosts.server;
  if (hosts.mirrors.length > 0) {
    document.host = Object.fromEntries(
      hosts.mirrors.map((mirror, index) => [mirror.host, hostTable(registry, mirror, index)]),
    );
  }
  return TOML.stringify(document);
}

/** Every file of every registry, registries sorted by name so that the set has one rendering. */
export function renderRegistryFiles(registries: Readonly<Record<string, RegistryHosts>>): RegistryFile[] {
  return Object.keys(registries)
    .sort()
    .flatMap((registry) => {
      const hosts = registries[registry] as RegistryHosts;
      const caFiles = hosts.mirrors.flatMap((mirror, index) =>
        mirror.caPem === undefined ? [] : [{ path: `${registry}/${caFileName(index)}`, content: mirror.caPem }],
      );
      return [{ path: `${registry}/hosts.toml`, content: renderHostsToml(registry, hosts) }, ...caFiles];
    });
}

/** Starts a file in the stream sent to the registries step; its content lines follow, each after `|`. */
export const FILE_MARKER = "=== ";

/**
 * The files as one text stream for the step's standard input: `=== <path>`,
 * then each line of the file behind `|`. Plain text, so a change reads in
 * `pulumi preview --diff` as the lines that changed. Every file ends in a
 * newline (TOML.stringify's and the validated PEM's do), so lines are whole.
 */
export function registryStream(files: readonly RegistryFile[]): string {
  return files
    .map(({ path, content }) => {
      const lines = content.endsWith("\n") ? content.slice(0, -1).split("\n") : content.split("\n");
      return [`${FILE_MARKER}${path}`, ...lines.map((line) => `|${line}`)].join("\n") + "\n";
    })
    .join("");
}
