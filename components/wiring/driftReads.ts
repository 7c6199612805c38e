/**
 * One bound on the drift reads a program runs at once. Every ContainerdWorker
 * reads its host on each preview and up; without a bound, a stack of 500
 * workers opens 500 SSH connections together (and a bastion's sshd drops most
 * of them: its MaxStartups is 10:30:100 by default).
 *
 * The bound is per program, not per component: it lives on `globalThis` under
 * a `Symbol.for` key, so two copies of this module (a program that loads the
 * library twice) still share one count.
 */
import { InvalidInputError } from "../inputs/errors";

/** How many drift reads run at once unless the program says otherwise. */
export const DEFAULT_DRIFT_READ_CONCURRENCY = 16;
export const MAX_DRIFT_READ_CONCURRENCY = 1024;

interface DriftReadSlots {
  limit: number;
  running: number;
  /** Who waits for a slot, first come first served. */
  waiting: (() => void)[];
}

const SLOTS = Symbol.for("containerd-worker:drift-read-slots");

function slots(): DriftReadSlots {
  const global = globalThis as { [SLOTS]?: DriftReadSlots };
  global[SLOTS] ??= { limit: DEFAULT_DRIFT_READ_CONCURRENCY, running: 0, waiting: [] };
  return global[SLOTS];
}

function startWaiting(state: DriftReadSlots): void {
  while (state.running < state.limit) {
    const next = state.waiting.shift();
    if (next === undefined) return;
    state.running++;
    next();
  }
}

/**
 * Sets how many drift reads the program runs at once (default 16), for every
 * ContainerdWorker in it: call it before the workers are created. Reads already
 * running finish; waiting ones start as the new bound allows.
 */
export function setDriftReadConcurrency(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DRIFT_READ_CONCURRENCY) {
    throw new InvalidInputError(
      "driftReadConcurrency",
      `${limit} is not a whole number from 1 to ${MAX_DRIFT_READ_CONCURRENCY}`,
    );
  }
  const state = slots();
  state.limit = limit;
  startWaiting(state);
}

/** The bound in effect. */
export function driftReadConcurrency(): number {
  return slots().limit;
}

/**
 * Runs `read` once a slot is free, and frees it when `read` settles. `onWait` is told when the read
 * has to wait, with the bound and how many reads wait before it, so the worker can say it waits.
 */
export async function withDriftReadSlot<T>(
  read: () => Promise<T>,
  onWait: (limit: number, ahead: number) => void,
): Promise<T> {
  const state = slots();
  if (state.running < state.limit && state.waiting.length === 0) {
    state.running++;
  } else {
    onWait(state.limit, state.waiting.length);
    await new Promise<void>((resolve) => state.waiting.push(resolve));
  }
  try {
    return await read();
  } finally {
    state.running--;
    startWaiting(state);
  }
}
