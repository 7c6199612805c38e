/**
 * Registering a resource, the Pulumi Node.js SDK wraps each of its output promises for its report of
 * promises left pending at exit (four per output property: 56 for a `remote.Command`), and stores
 * `new Error().stack` on each. Those stacks are printed only when `PULUMI_DEBUG_PROMISE_LEAKS` is set
 * (`runtime/debuggable.js`); otherwise nothing reads them. Capturing them costs a fleet more than
 * anything else it does under ts-node or tsx, which source-map every frame, and keeps each string alive
 * as long as the resource: bench part 6 has the figures.
 *
 * So the component makes its child commands with no stack frames captured, unless that variable is set.
 * What the engine gets is unchanged: the SDK takes each resource's source position and stack trace with a
 * limit it sets itself (`Resource.callsites`), from the frame that called the resource's constructor.
 * That is why this is a pause and not a wrapper taking a callback: the callback's anonymous frame would
 * be that caller, and it has no name the SDK can read a position from.
 */

/** The variable the Pulumi SDK reads to print each pending promise with the stack that made it. */
export const PROMISE_LEAKS_DEBUG_VARIABLE = "PULUMI_DEBUG_PROMISE_LEAKS";

/**
 * Sets `Error.stackTraceLimit` to 0, unless PULUMI_DEBUG_PROMISE_LEAKS is set, until the returned
 * `resume` is called. Given an error, `resume` also gives it the frames of where it is called, when it
 * was made while paused and has none.
 */
export function pausePromiseStacks(): (error?: unknown) => void {
  if (process.env[PROMISE_LEAKS_DEBUG_VARIABLE]) return () => undefined;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  return function resume(error?: unknown) {
    Error.stackTraceLimit = limit;
    if (error instanceof Error && !error.stack?.includes("\n    at ")) Error.captureStackTrace(error, resume);
  };
}
