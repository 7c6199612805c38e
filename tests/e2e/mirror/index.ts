// The e2e release mirror: real containerd, runc and CNI plugin builds from
// Debian, packed in the upstream GitHub release layout, plus an honest crictl
// stand-in (crictl.py, a real CRI client); and an HTTP server for them with
// throttling and fault injection; and a minimal OCI registry (registry.ts)
// serving images built in code, for registry mirror tests.
//
//   const releases = await ensureReleases();              // cached build of the tree
//   const mirror = await startMirror({ host: HOST_ADDRESS, releases });
//   // base URL override for the component: mirror.baseUrl replaces https://github.com
//   mirror.setFault("runc.amd64", "truncate", { times: 1 });
//   ...
//   await mirror.stop();

export {
  type Arch,
  type Artifact,
  type Catalog,
  type Component,
  CRICTL_SOURCE,
  CRICTL_VERSION,
  type DebianPackage,
  defaultCacheDir,
  ensureReleases,
  type EnsureReleasesOptions,
  findArtifact,
  releasePaths,
  type Releases,
  upstreamVersion,
} from "./releases";
export {
  type Fault,
  type Mirror,
  type MirrorOptions,
  type PathMatcher,
  type RequestRecord,
  startMirror,
} from "./server";
export {
  buildImage,
  type ImageFile,
  MANIFEST_MEDIA_TYPE,
  type Registry,
  type RegistryRequest,
  startRegistry,
  tarOf,
  type TestImage,
} from "./registry";
