// An HTTP server for the release tree: a stand-in for https://github.com whose
// base URL the component takes as its mirror override. It can throttle each
// response and inject faults per path.

import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

import { type Catalog, ensureReleases, type Releases } from "./releases";

/**
 * - "404": answer 404 Not Found.
 * - "500": answer 500 (curl --retry retries it).
 * - "truncate": announce the full Content-Length, send half the bytes, then close the connection.
 * - "corrupt": send the full length with one byte changed, so the checksum mismatches.
 * - "stall": send the headers and the first KiB, then nothing until the client goes away.
 * - "clear": remove the faults set for that matcher.
 */
export type Fault = "404" | "500" | "truncate" | "corrupt" | "stall" | "clear";

/** A path suffix ("runc.amd64"), a RegExp tested on the path, or a predicate. */
export type PathMatcher = string | RegExp | ((urlPath: string) => boolean);

export interface RequestRecord {
  method: string;
  path: string;
  /** 0 while the response has not started. */
  status: number;
  /** Body bytes written to the socket. */
  bytes: number;
  /** Whether the whole body was sent. */
  complete: boolean;
  fault?: Exclude<Fault, "clear">;
  /** Time from the request to the end of the response (or the client going away). */
  ms: number;
}

export interface MirrorOptions {
  /** The only address it binds: 127.0.0.1 in host tests, the bridge address (10.200.0.1) for workers. */
  host: string;
  /** Defaults to 0 (any free port). */
  port?: number;
  /** Throttle each response to about this many bytes per second (a token bucket per response). */
  bytesPerSecond?: number;
  /** A built release tree; ensureReleases() is called when omitted. */
  releases?: Releases;
}

export interface Mirror {
  /** "http://host:port": what replaces https://github.com in the release URLs. */
  baseUrl: string;
  host: string;
  port: number;
  releases: Releases;
  /** Versions present; also served as GET /catalog.json. */
  catalog: Catalog;
  /** Every request, in arrival order; records are updated as responses progress. */
  requests: RequestRecord[];
  /** Applies `fault` to matching paths (the latest matching rule wins); `times` limits it to the next N matches. */
  setFault(match: PathMatcher, fault: Fault, options?: { times?: number }): void;
  clearFaults(): void;
  setBytesPerSecond(rate: number | undefined): void;
  stop(): Promise<void>;
}

interface FaultRule {
  match: PathMatcher;
  fault: Exclude<Fault, "clear">;
  remaining: number;
}

const CHUNK = 64 * 1024;

function matches(match: PathMatcher, urlPath: string): boolean {
  if (typeof match === "string") return urlPath.endsWith(match);
  if (match instanceof RegExp) return match.test(urlPath);
  return match(urlPath);
}

function sameMatcher(a: PathMatcher, b: PathMatcher): boolean {
  if (a instanceof RegExp && b instanceof RegExp) return a.source === b.source && a.flags === b.flags;
  return a === b;
}

/** Resolves when `res` can take more data, or has closed. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Listens on `host:port` (port 0: any free one) and returns where, or fails with the listen error. */
export async function listen(server: http.Server, host: string, port = 0): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

export async function startMirror(options: MirrorOptions): Promise<Mirror> {
  const releases = options.releases ?? (await ensureReleases());
  const root = releases.root;
  const requests: RequestRecord[] = [];
  let rules: FaultRule[] = [];
  let rate = options.bytesPerSecond;
  let stopping = false;

  function takeFault(urlPath: string): FaultRule["fault"] | undefined {
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i];
      if (!rule || !matches(rule.match, urlPath)) continue;
      rule.remaining -= 1;
      if (rule.remaining <= 0) rules.splice(i, 1);
      return rule.fault;
    }
    return undefined;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? "/", "http://mirror").pathname);
    } catch {
      urlPath = req.url ?? "/";
    }
    const record: RequestRecord = {
      method: req.method ?? "",
      path: urlPath,
      status: 0,
      bytes: 0,
      complete: false,
      ms: 0,
    };
    requests.push(record);
    let clientGone = false;
    res.on("close", () => {
      clientGone = !res.writableFinished;
      record.ms = Date.now() - started;
    });

    const answer = (status: number, body: string): void => {
      record.status = status;
      res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
      record.bytes = req.method === "HEAD" ? 0 : Buffer.byteLength(body);
      record.complete = true;
    };

    if (req.method !== "GET" && req.method !== "HEAD") return answer(405, "method not allowed\n");
    if (urlPath === "/catalog.json") return answer(200, JSON.stringify(releases.catalog) + "\n");

    const file = path.join(root, urlPath);
    const inside = !path.relative(root, file).startsWith("..");
    let size: number;
    try {
      const stat = fs.statSync(file);
      if (!inside || !stat.isFile()) throw new Error("not a file");
      size = stat.size;
    } catch {
      return answer(404, "Not Found\n");
    }

    const fault = takeFault(urlPath);
    if (fault) record.fault = fault;
    if (fault === "404") return answer(404, "Not Found\n");
    if (fault === "500") return answer(500, "injected server error\n");

    record.status = 200;
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size });
    if (req.method === "HEAD") {
      res.end();
      record.complete = true;
      return;
    }

    const limit = fault === "truncate" ? Math.floor(size / 2) : fault === "stall" ? Math.min(size, 1024) : size;
    const corruptAt = fault === "corrupt" ? Math.floor(size / 2) : -1;
    const handleFile = await fs.promises.open(file, "r");
    try {
      let tokens = 0;
      let refilled = Date.now();
      let offset = 0;
      while (offset < limit && !clientGone && !stopping) {
        // Slow rates send smaller chunks, so that the stream stays smooth.
        const chunkSize = rate ? Math.min(CHUNK, Math.max(1024, Math.floor(rate / 20))) : CHUNK;
        const want = Math.min(chunkSize, limit - offset);
        if (rate) {
          // Token bucket: refill at `rate`, hold at most a tenth of a second's worth (or one chunk).
          const bucket = Math.max(chunkSize, rate / 10);
          const now = Date.now();
          tokens = Math.min(bucket, tokens + ((now - refilled) / 1000) * rate);
          refilled = now;
          if (tokens < want) {
            await sleep(((want - tokens) / rate) * 1000);
            continue;
          }
          tokens -= want;
        }
        const buffer = Buffer.alloc(want);
        const { bytesRead } = await handleFile.read(buffer, 0, want, offset);
        if (bytesRead === 0) break;
        const chunk = buffer.subarray(0, bytesRead);
        if (corruptAt >= offset && corruptAt < offset + bytesRead) {
          const i = corruptAt - offset;
          chunk[i] = (chunk[i] ?? 0) ^ 0xff;
        }
        offset += bytesRead;
        record.bytes = offset;
        if (!res.write(chunk)) await drained(res);
      }
    } finally {
      await handleFile.close();
    }

    if (clientGone || stopping) return;
    if (fault === "truncate") {
      // Content-Length promised the whole file: closing now is a truncated transfer.
      res.socket?.destroy();
      return;
    }
    if (fault === "stall") {
      await new Promise<void>((resolve) => res.once("close", resolve));
      return;
    }
    res.end();
    record.complete = true;
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(`mirror error: ${String(err)}\n`);
      } else {
        res.destroy();
      }
    });
  });
  const address = await listen(server, options.host, options.port);
  const hostInUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    baseUrl: `http://${hostInUrl}:${address.port}`,
    host: address.address,
    port: address.port,
    releases,
    catalog: releases.catalog,
    requests,
    setFault(match, fault, faultOptions = {}) {
      rules = rules.filter((r) => !sameMatcher(r.match, match));
      if (fault !== "clear") rules.push({ match, fault, remaining: faultOptions.times ?? Infinity });
    },
    clearFaults() {
      rules = [];
    },
    setBytesPerSecond(newRate) {
      rate = newRate;
    },
    async stop() {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
