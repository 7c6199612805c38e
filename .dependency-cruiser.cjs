/**
 * The import rules of the layers (docs/layout.md): each layer imports only the layers below it, and nothing
 * imports in a circle. Top to bottom; a layer is a set of paths.
 */
const LAYERS = [
  ["program", "^(index\\.ts|program/)"],
  ["component", "^components/([^/]+\\.ts|wiring/)"],
  ["drift", "^components/drift/"],
  ["plan", "^components/plan/"],
  ["worker", "^components/worker/"],
  ["render", "^components/render/"],
  ["inputs", "^components/inputs/"],
  ["args", "^components/args/"],
  ["catalog", "^components/catalog/"],
];

const upward = LAYERS.flatMap(([name, path], index) =>
  index === 0
    ? []
    : [
        {
          name: `no-upward-from-${name}`,
          comment: `${name} may import only the layers below it`,
          severity: "error",
          from: { path },
          to: { path: LAYERS.slice(0, index).map(([, above]) => above) },
        },
      ],
);

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "a cycle, type-only imports included, means two modules are one idea or one is in the wrong layer",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "library-outside-layers",
      comment: "every library module belongs to a layer folder",
      severity: "error",
      from: { path: "^components/[^/]+/", pathNot: LAYERS.map(([, path]) => path) },
      to: {},
    },
    ...upward,
  ],
  options: {
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    // The build output and the build step around tsc are no layer: dist/ is the layers compiled, build/ runs tsc.
    exclude: { path: "^(node_modules|tests|bench|tools|examples|components/dist|components/build)/" },
  },
};
