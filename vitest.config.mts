import * as path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * The program imports the library by its package name, as users do; under the Pulumi CLI node finds the workspace
 * link's compiled dist/. Tests take the TypeScript sources instead, the same module instances the tests reach by
 * relative path (one InvalidInputError class, one ContainerdWorker), and no build needed first.
 */
// From the root, as the include globs below are: vitest runs from the repository's top.
const source = (file: string) => path.resolve("components", file);
const alias = [
  { find: /^containerd-worker$/, replacement: source("index.ts") },
  { find: /^containerd-worker\/config$/, replacement: source("config.ts") },
];

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["tests/**/*.test.ts"],
          exclude: ["tests/e2e/**", "tests/package/**"],
        },
      },
      {
        resolve: { alias },
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          // Scenarios share booted workers and a mirror; they run one file at a time.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
      {
        test: {
          name: "package",
          // Packs the library, installs the tarball in a project outside this tree and runs a program on it.
          include: ["tests/package/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
