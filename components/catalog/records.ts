/** Where each step keeps its records on the worker (see drift/hostDrift.ts for how they are read). */
import { ADOPTED_DIR, PATHS } from "./catalog";
import { StepId } from "./stepIds";

/** How many times a step has been repaired: the number its script carries. */
export function generationFile(step: StepId): string {
  return `${PATHS.manifestDir}/${step}.generation`;
}

/**
 * What a step put in place, recorded when it ran, in sha256sum's format. A
 * file that no longer matches its record was changed on the worker; a file
 * that differs from what the stack now renders is a stack change, which the
 * ordinary diff already shows.
 */
export function manifestFile(step: StepId): string {
  return `${PATHS.manifestDir}/${step}.files`;
}

/** Where a step keeps the operator's files it adopted (see `ADOPTED_DIR`). */
export function adoptedCopies(step: StepId): string {
  return `${ADOPTED_DIR}/${step}`;
}
