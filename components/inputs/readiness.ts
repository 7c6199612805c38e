/**
 * The readiness gate of a just-booted worker: how the `ready` step dials it,
 * worked out from one user-facing timeout. Pure.
 *
 * pulumi-command retries a failed dial (TCP connect and SSH handshake,
 * authentication included) `dialErrorLimit` times, waiting between attempts
 * as pulumi's `retry.Until` does: 100 ms, then ×1.5 each time, at most 5 s
 * (pulumi-command `remote/connection.go` dialWithRetry; pulumi
 * `sdk/go/common/util/retry/until.go`). The gate asks for just enough retries
 * that those waits alone add up to the timeout: a worker that refuses
 * connections at once is still being dialed when the timeout is up.
 */

/** pulumi's `retry.Until` defaults, as pulumi-command's dial retries use them. */
export const DIAL_BACKOFF = { firstDelayMs: 100, factor: 1.5, maxDelayMs: 5_000 } as const;

/**
 * Default `readyTimeoutSeconds`: a fresh EC2 instance usually accepts SSH
 * 30 to 90 s after launch, and cloud-init with user-data (package installs,
 * say) can take a few minutes more; five minutes covers both with room to
 * spare, and still fails a dead instance in minutes rather than hanging.
 */
export const DEFAULT_READY_TIMEOUT_SECONDS = 300;
export const READY_TIMEOUT_RANGE = { min: 1, max: 3_600 } as const;

/**
 * Bound on one TCP connect of the gate. A reachable worker answers within a
 * round trip; one still booting drops the SYN, and then the attempt costs
 * this much of the budget. 5 s allows the SYN's retransmits at 1 s and 3 s.
 */
export const READY_PER_DIAL_TIMEOUT_SECONDS = 5;

export interface ReadyDialing {
  /** Failed dials allowed (pulumi-command makes one attempt more). */
  dialErrorLimit: number;
  /** Seconds one TCP connect may take. */
  perDialTimeout: number;
  /**
   * The longest the gate can take: every connect hanging for
   * `perDialTimeout` on top of the retry waits, then the cloud-init wait
   * (at most `timeoutSeconds`, counted from the worker's boot).
   */
  worstCaseSeconds: number;
}

/** pulumi-command's wait, in ms, after failed dial number `failure` (1, 2, ...). */
export function dialRetryDelayMs(failure: number): number {
  return Math.min(DIAL_BACKOFF.firstDelayMs * DIAL_BACKOFF.factor ** (failure - 1), DIAL_BACKOFF.maxDelayMs);
}

/** The fewest failed dials whose retry waits add up to `seconds`, and those waits in ms. */
function retriesFor(seconds: number): { dialErrorLimit: number; waitedMs: number } {
  let dialErrorLimit = 0;
  let waitedMs = 0;
  while (waitedMs < seconds * 1000) {
    dialErrorLimit++;
    waitedMs += dialRetryDelayMs(dialErrorLimit);
  }
  return { dialErrorLimit, waitedMs };
}

/** The `ready` step's dial settings for a worker that must be reachable within `timeoutSeconds`. */
export function readyDialing(timeoutSeconds: number): ReadyDialing {
  const { dialErrorLimit, waitedMs } = retriesFor(timeoutSeconds);
  const perDialTimeout = READY_PER_DIAL_TIMEOUT_SECONDS;
  return {
    dialErrorLimit,
    perDialTimeout,
    worstCaseSeconds: Math.ceil(waitedMs / 1000) + (dialErrorLimit + 1) * perDialTimeout + timeoutSeconds,
  };
}

/**
 * How long the steps after `ready` keep redialing a bastion, when the connection's `proxy` sets no
 * `dialErrorLimit` of its own. pulumi-command opens one SSH connection to the bastion per command, and
 * after `ready` a worker starts eight at once: a fleet's share arrives at the bastion together, and an
 * OpenSSH bastion with its defaults (`MaxStartups 10:30:100`) drops a growing share of them past ten
 * unauthenticated connections. A dropped dial is retried on a fresh connection, after pulumi-command's
 * growing waits; the default limit (10 failures, about 11 s of waits) runs out once a burst takes the
 * bastion longer than that to work through. A minute of waits covers a few hundred commands queued on a
 * small bastion; a bastion that is really gone was already caught by `ready`, which dials it first.
 */
export const BASTION_DIAL_WAIT_SECONDS = 60;

/** The bastion hop's `dialErrorLimit` for the steps after `ready` (20: about 61 s of waits). */
export const BASTION_DIAL_ERROR_LIMIT = retriesFor(BASTION_DIAL_WAIT_SECONDS).dialErrorLimit;
