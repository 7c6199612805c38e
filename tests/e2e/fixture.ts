/**
 * The lab as an e2e file uses it: booted before the file's tests, stopped
 * after them. Kept apart from lab.ts, which the demo and the benchmarks load
 * outside vitest.
 */
import { afterAll, beforeAll } from "vitest";
import { expectOk, Lab, LabOptions, startLab } from "./lab";

export interface LabFixtureOptions extends LabOptions {
  /** Run a first up (the stack's defaults) once the workers are booted; it must succeed. */
  firstUp?: boolean;
}

/** The file's lab, valid inside its tests and hooks. */
export interface LabFixture extends Lab {
  /** The first worker's name, as the stack's hosts name it. */
  readonly worker: string;
  /** Every worker's name, in the hosts' order. */
  readonly names: string[];
  /** The name of worker `index`. */
  nameOf(index: number): string;
}

/**
 * Registers the file's beforeAll (start the lab, then the first up if asked)
 * and afterAll (stop it), and returns the lab. Hooks a file registers after
 * this call run after the lab is up, and their afterAll before it stops.
 */
export function useLab(options: LabFixtureOptions): LabFixture {
  let started: Lab | undefined;
  const lab = (): Lab => {
    if (started === undefined) throw new Error("the lab is not started: use it inside a test or a hook");
    return started;
  };
  beforeAll(async () => {
    started = await startLab(options);
    if (options.firstUp) expectOk(await started.up());
  });
  afterAll(async () => {
    await started?.stop();
  });
  const nameOf = (index: number): string => {
    const worker = lab().workers[index];
    if (worker === undefined) throw new Error(`the lab has no worker ${index}`);
    return worker.name;
  };
  return {
    get mirror() {
      return lab().mirror;
    },
    get workers() {
      return lab().workers;
    },
    get stateFile() {
      return lab().stateFile;
    },
    config: (overrides) => lab().config(overrides),
    up: (overrides) => lab().up(overrides),
    startUp: (overrides) => lab().startUp(overrides),
    preview: (overrides) => lab().preview(overrides),
    destroy: () => lab().destroy(),
    onWorker: (command, index) => lab().onWorker(command, index),
    stop: () => lab().stop(),
    get worker() {
      return nameOf(0);
    },
    get names() {
      return lab().workers.map((worker) => worker.name);
    },
    nameOf,
  };
}
