/** A rejected input: `input` is its path in the args, e.g. `versions.containerd`. */
export class InvalidInputError extends Error {
  constructor(
    readonly input: string,
    readonly detail: string,
  ) {
    super(`invalid ${input}: ${detail}`);
    this.name = "InvalidInputError";
  }
}
