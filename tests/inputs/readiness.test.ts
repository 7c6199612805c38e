import { describe, expect, it } from "vitest";
import {
  DEFAULT_READY_TIMEOUT_SECONDS,
  dialRetryDelayMs,
  READY_PER_DIAL_TIMEOUT_SECONDS,
  readyDialing,
} from "../../components/inputs/readiness";

/** Total retry wait before the last attempt of a dial with this limit, in ms. */
const waitedMs = (limit: number) =>
  Array.from({ length: limit }, (_, i) => dialRetryDelayMs(i + 1)).reduce((a, b) => a + b, 0);

describe("pulumi-command's dial retry waits", () => {
  it("start at 100 ms, grow ×1.5 and stop growing at 5 s", () => {
    expect([1, 2, 3, 4, 10, 11, 12, 50].map(dialRetryDelayMs)).toEqual([
      100,
      150,
      225,
      337.5,
      100 * 1.5 ** 9,
      5000,
      5000,
      5000,
    ]);
    // The default limit of 10 retries waits about 11.3 s in all.
    expect(waitedMs(10)).toBeCloseTo(11_333, 0);
  });
});

describe("readyDialing", () => {
  it("gives the default timeout 68 retries, 5 s per connect", () => {
    expect(readyDialing(DEFAULT_READY_TIMEOUT_SECONDS)).toEqual({
      dialErrorLimit: 68,
      perDialTimeout: READY_PER_DIAL_TIMEOUT_SECONDS,
      // 301.3 s of waits (rounded up), 69 connects of up to 5 s, then up to 300 s of cloud-init.
      worstCaseSeconds: 302 + 69 * 5 + 300,
    });
  });

  it.each([1, 2, 3, 11, 12, 60, 300, 3600])(
    "waits at least %i s between attempts, and no retry more than that needs",
    (seconds) => {
      const { dialErrorLimit } = readyDialing(seconds);
      expect(waitedMs(dialErrorLimit)).toBeGreaterThanOrEqual(seconds * 1000);
      expect(waitedMs(dialErrorLimit - 1)).toBeLessThan(seconds * 1000);
    },
  );
});
