/** The check the input-validation tests share: a call refused with an InvalidInputError naming one input. */
import { expect } from "vitest";
import { InvalidInputError } from "../components/inputs/errors";

/**
 * Expects `fn` to throw an InvalidInputError for `input`, with a message matching `message` if given, and
 * returns the error for further checks.
 */
export function expectInvalidInput(fn: () => unknown, input: string, message?: RegExp): InvalidInputError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InvalidInputError);
  const error = thrown as InvalidInputError;
  expect(error.input).toBe(input);
  if (message !== undefined) expect(error.message).toMatch(message);
  return error;
}
