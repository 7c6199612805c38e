// The library's build around tsc: `clean` empties dist/ (tsc never removes a file whose source is gone), `copy`
// puts next to the compiled JavaScript every non-TypeScript file the library reads at run time, the JSON data and
// the shell scripts, at the same path relative to the package, so `path.join(__dirname, ...)` finds them in dist/.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST = join(PACKAGE, "dist");
/** Not part of the library: the output, dependencies, this build. */
const SKIP_DIRS = new Set(["dist", "node_modules", "build"]);
/** The package's own manifests, not data the library reads. */
const SKIP_FILES = /^(package(-lock)?\.json|tsconfig(\..+)?\.json)$/;
const ASSET = /\.(sh|json)$/;

function* assets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith(".")) yield* assets(full);
    } else if (entry.isFile() && ASSET.test(entry.name) && !(dir === PACKAGE && SKIP_FILES.test(entry.name))) {
      yield full;
    }
  }
}

const command = process.argv[2];
if (command === "clean") {
  rmSync(DIST, { recursive: true, force: true });
} else if (command === "copy") {
  for (const file of assets(PACKAGE)) {
    const target = join(DIST, relative(PACKAGE, file));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target); // keeps the mode: a script stays executable
  }
} else {
  console.error("usage: node build/assets.mjs clean|copy");
  process.exit(2);
}
