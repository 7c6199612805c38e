/**
 * `containerd-worker/config`: what a Pulumi program needs to turn its own stack configuration into
 * ContainerdWorker arguments with the library's own checks, so a typo fails at preview, by name, with the
 * same message the component would give. The component and its argument types are the package root's
 * (`containerd-worker`); this entry adds the checks, their error and the vocabularies they accept.
 *
 * Import both entries from the package, never a file inside it: each is one module instance, so an
 * InvalidInputError thrown here or by the component is the class exported here (`instanceof` holds).
 */
export { InvalidInputError } from "./inputs/errors";
export { CONTROL_CHARACTERS } from "./inputs/controlCharacters";
export { checkArgument, checkNoControlCharacters, resolveSecretCapable, SECRET_CAPABLE_INPUTS } from "./inputs/options";
export type { SecretCapableInput, SecretCapableOptions } from "./inputs/options";
export { ARCH_CHOICES, ARCHES, PARTS } from "./catalog/catalog";
export type { Arch, ArchChoice, Part } from "./catalog/catalog";
export { parseHostKey } from "./drift/hostKey";
export type { PinnedHostKey } from "./drift/hostKey";
export { hostPort } from "./wiring/workerAddresses";
export { DEFAULT_DRIFT_READ_CONCURRENCY, MAX_DRIFT_READ_CONCURRENCY } from "./wiring/driftReads";
export { DECLARATIONS } from "./inputs/declarations";
export type { ArgumentName, ConfigKey } from "./inputs/declarations";
