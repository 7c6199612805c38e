// A minimal OCI distribution registry for the e2e tests: the read side of the
// distribution spec (GET /v2/, manifests by tag or digest, blobs, HEAD of
// each), serving images built in code with real sha256 digests, and logging
// every request with its headers, so a test can see what containerd asked
// for and how.
//
//   const image = buildImage("demo", "1", [{ path: "hello.txt", content: "hello\n" }]);
//   const registry = await startRegistry({ host: HOST_ADDRESS, images: [image] });
//   ... registry.requests ...
//   await registry.stop();

import * as crypto from "node:crypto";
import * as http from "node:http";
import * as zlib from "node:zlib";
import { listen } from "./server";

export const MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";

export interface ImageFile {
  /** Path inside the image, without a leading slash. */
  path: string;
  content: string | Buffer;
  /** Default 0o644. */
  mode?: number;
}

export interface TestImage {
  /** Repository name, e.g. "demo" or "team/demo". */
  name: string;
  tag: string;
  /** `sha256:<hex>` of the manifest: what a pull by digest names. */
  digest: string;
  manifest: Buffer;
  /** Config and layer blobs by digest. */
  blobs: Map<string, Buffer>;
}

export interface RegistryRequest {
  method: string;
  /** URL path, e.g. /v2/demo/manifests/1. */
  path: string;
  /** Query parameters (containerd names the upstream registry of a mirror request in `ns`). */
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  status: number;
}

export interface Registry {
  /** "http://host:port": a mirror URL for hosts.toml. */
  url: string;
  /** Every request, in arrival order. */
  requests: RegistryRequest[];
  stop(): Promise<void>;
}

const sha256 = (data: Buffer): string => `sha256:${crypto.createHash("sha256").update(data).digest("hex")}`;

/** One ustar header block for a regular file. */
function tarHeader(name: string, size: number, mode: number): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, "ascii");
  };
  const octal = (value: number, length: number): string => `${value.toString(8).padStart(length - 1, "0")}\0`;
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  field(0, 100, name);
  field(100, 8, octal(mode, 8));
  field(108, 8, octal(0, 8)); // uid
  field(116, 8, octal(0, 8)); // gid
  field(124, 12, octal(size, 12));
  field(136, 12, octal(0, 12)); // mtime: fixed, so the same files give the same digest
  field(148, 8, "        "); // checksum is computed with this field as spaces
  field(156, 1, "0"); // regular file
  field(257, 6, "ustar\0");
  field(263, 2, "00");
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** A tar archive of regular files, as an image layer holds it (before compression). */
export function tarOf(files: readonly ImageFile[]): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    const content = Buffer.from(file.content);
    blocks.push(tarHeader(file.path, content.length, file.mode ?? 0o644), content);
    blocks.push(Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return Buffer.concat(blocks);
}

/** The OCI platform name of the machine running the tests: the sandbox workers share it. */
function hostArchitecture(): string {
  const names: Record<string, string> = { x64: "amd64", arm64: "arm64" };
  const name = names[process.arch];
  if (name === undefined) throw new Error(`no OCI architecture for ${process.arch}`);
  return name;
}

/** A one-layer image for this machine's platform: manifest, config and layer with their real digests. */
export function buildImage(name: string, tag: string, files: readonly ImageFile[]): TestImage {
  const tar = tarOf(files);
  const layer = zlib.gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostArchitecture(),
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [sha256(tar)] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(config), size: config.length },
      layers: [{ mediaType: LAYER_MEDIA_TYPE, digest: sha256(layer), size: layer.length }],
    }),
  );
  return {
    name,
    tag,
    digest: sha256(manifest),
    manifest,
    blobs: new Map([
      [sha256(config), config],
      [sha256(layer), layer],
    ]),
  };
}

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;

export async function startRegistry(options: {
  host: string;
  port?: number;
  images: readonly TestImage[];
}): Promise<Registry> {
  const requests: RegistryRequest[] = [];

  function answer(req: http.IncomingMessage, res: http.ServerResponse): number {
    const url = new URL(req.url ?? "/", "http://registry");
    const send = (status: number, body: Buffer, headers: Record<string, string> = {}): number => {
      res.writeHead(status, {
        "Docker-Distribution-API-Version": "registry/2.0",
        "Content-Length": String(body.length),
        ...headers,
      });
      res.end(req.method === "HEAD" ? undefined : body);
      return status;
    };
    const error = (status: number, code: string, message: string): number =>
      send(status, Buffer.from(JSON.stringify({ errors: [{ code, message }] })), {
        "Content-Type": "application/json",
      });

    if (req.method !== "GET" && req.method !== "HEAD") return error(405, "UNSUPPORTED", "read-only registry");
    if (url.pathname === "/v2/" || url.pathname === "/v2") {
      return send(200, Buffer.from("{}"), { "Content-Type": "application/json" });
    }
    const route = ROUTE.exec(url.pathname);
    if (!route) return error(404, "NOT_FOUND", `no route for ${url.pathname}`);
    const [, name, kind, reference] = route;
    const repository = options.images.filter((image) => image.name === name);
    if (repository.length === 0) return error(404, "NAME_UNKNOWN", `repository ${name} is not known`);
    if (kind === "manifests") {
      const image = repository.find((candidate) => candidate.tag === reference || candidate.digest === reference);
      if (!image) return error(404, "MANIFEST_UNKNOWN", `manifest ${reference} is not known`);
      return send(200, image.manifest, { "Content-Type": MANIFEST_MEDIA_TYPE, "Docker-Content-Digest": image.digest });
    }
    const blob = repository.map((image) => image.blobs.get(reference ?? "")).find((found) => found !== undefined);
    if (!blob) return error(404, "BLOB_UNKNOWN", `blob ${reference} is not known`);
    return send(200, blob, { "Content-Type": "application/octet-stream", "Docker-Content-Digest": reference ?? "" });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://registry");
    const record: RegistryRequest = {
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      status: 0,
    };
    requests.push(record);
    record.status = answer(req, res);
  });
  const address = await listen(server, options.host, options.port);
  return {
    url: `http://${address.address}:${address.port}`,
    requests,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
