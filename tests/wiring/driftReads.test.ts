import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_DRIFT_READ_CONCURRENCY,
  driftReadConcurrency,
  setDriftReadConcurrency,
  withDriftReadSlot,
} from "../../components/wiring/driftReads";

afterEach(() => setDriftReadConcurrency(DEFAULT_DRIFT_READ_CONCURRENCY));

/** `count` fake reads of `ms` each through the slots; reports the most that ran at once. */
async function readAll(count: number, ms: number) {
  let running = 0;
  let peak = 0;
  const waited: number[] = [];
  const results = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      withDriftReadSlot(
        async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setTimeout(resolve, ms));
          running--;
          return index;
        },
        () => waited.push(index),
      ),
    ),
  );
  return { results, peak, waited };
}

describe("the drift read bound", () => {
  it("is 16 by default", () => {
    expect(driftReadConcurrency()).toBe(16);
  });

  it("never runs more reads than the bound, uses all of it, and finishes every read", async () => {
    setDriftReadConcurrency(3);
    const { results, peak, waited } = await readAll(20, 5);
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
    // The first three start at once; every other read was told it waits.
    expect(waited).toEqual(Array.from({ length: 17 }, (_, i) => i + 3));
  });

  it("with a bound of 1, reads one at a time in the order they asked", async () => {
    setDriftReadConcurrency(1);
    const order: number[] = [];
    let running = 0;
    let peak = 0;
    await Promise.all(
      [0, 1, 2, 3].map((index) =>
        withDriftReadSlot(
          async () => {
            peak = Math.max(peak, ++running);
            order.push(index);
            await new Promise((resolve) => setTimeout(resolve, 5));
            running--;
          },
          () => undefined,
        ),
      ),
    );
    expect(peak).toBe(1);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it("frees the slot of a read that fails", async () => {
    setDriftReadConcurrency(1);
    const failed = withDriftReadSlot(
      () => Promise.reject(new Error("unreachable")),
      () => undefined,
    );
    const next = withDriftReadSlot(
      () => Promise.resolve("read"),
      () => undefined,
    );
    await expect(failed).rejects.toThrow("unreachable");
    await expect(next).resolves.toBe("read");
  });

  it("lets waiting reads start when the bound is raised", async () => {
    setDriftReadConcurrency(1);
    let release: () => void = () => undefined;
    const long = withDriftReadSlot(
      () => new Promise<void>((resolve) => (release = resolve)),
      () => undefined,
    );
    const waiting = withDriftReadSlot(
      () => Promise.resolve("started"),
      () => undefined,
    );
    setDriftReadConcurrency(2);
    await expect(waiting).resolves.toBe("started");
    release();
    await long;
  });

  it("is one bound for every copy of the module in the program", async () => {
    setDriftReadConcurrency(2);
    vi.resetModules();
    const copy = await import("../../components/wiring/driftReads");
    expect(copy.setDriftReadConcurrency).not.toBe(setDriftReadConcurrency);
    expect(copy.driftReadConcurrency()).toBe(2);
    // A slot taken through one copy counts in the other.
    let release: () => void = () => undefined;
    const held = copy.withDriftReadSlot(
      () => new Promise<void>((resolve) => (release = resolve)),
      () => undefined,
    );
    const second = withDriftReadSlot(
      () => Promise.resolve(),
      () => undefined,
    );
    let waitedForThird = false;
    const third = withDriftReadSlot(
      () => Promise.resolve(),
      () => (waitedForThird = true),
    );
    await second;
    expect(waitedForThird).toBe(true);
    release();
    await Promise.all([held, third]);
  });

  it.each([0, -1, 1.5, 1025, Number.NaN])("refuses %s, naming driftReadConcurrency", (limit) => {
    expect(() => setDriftReadConcurrency(limit)).toThrow(/^invalid driftReadConcurrency: /);
  });
});
