/**
 * Inputs that may be secrets (see SECRET_CAPABLE_INPUTS) when they are given as Outputs: their
 * values, checked once known, which of them were secrets, and which steps' standard input carries
 * one. No script ever holds these values (planWorker sends them on standard input), so a secret
 * makes only those standard inputs secret and every script stays readable in `preview --diff`.
 */
import * as pulumi from "@pulumi/pulumi";
import { Arch } from "../catalog/catalog";
import {
  isDeepPlain,
  resolveSecretCapable,
  SECRET_CAPABLE_INPUTS,
  SecretCapableInput,
  SecretCapableOptions,
  WorkerOptions,
} from "../inputs/options";
import { WorkerOptionsInput } from "../args/containerdWorkerArgs";
import { StepId } from "../catalog/stepIds";
import { planWorker } from "../plan/workerPlan";

export { isDeepPlain };

/** The secret-capable inputs once known and checked, and the names of those that were secrets. */
export interface ResolvedSecretInputs {
  values: SecretCapableOptions;
  secret: SecretCapableInput[];
}

/**
 * Waits for the secret-capable inputs, notes which are secrets, and checks them (`check` turns an
 * InvalidInputError into the component's error). The result itself is not secret: each standard
 * input that carries a secret is made secret on its own (see secretStdinSteps).
 */
export function resolveSecretInputs(
  given: Pick<WorkerOptionsInput, SecretCapableInput>,
  check: <T>(resolve: () => T) => T,
): pulumi.Output<ResolvedSecretInputs> {
  const inputs = SECRET_CAPABLE_INPUTS.map((name) => {
    const value = pulumi.output(given[name]);
    return pulumi.all([pulumi.unsecret(value), pulumi.output(pulumi.isSecret(value))]);
  });
  return pulumi.all(inputs).apply((pairs) => {
    const plain: Record<string, unknown> = {};
    const secret: SecretCapableInput[] = [];
    pairs.forEach(([value, isSecret], index) => {
      const name = SECRET_CAPABLE_INPUTS[index] as SecretCapableInput;
      plain[name] = value;
      if (isSecret) secret.push(name);
    });
    const values = check(() => resolveSecretCapable(plain, new Set(secret)));
    return { values, secret };
  });
}

/** Stand-ins for a secret input, both valid and unlike any real value: the first is the default. */
const STAND_INS: { [K in SecretCapableInput]: SecretCapableOptions[K][] } = {
  downloadBaseUrl: [resolveSecretCapable({}).downloadBaseUrl, "https://stand-in.invalid/base"],
  httpProxy: [undefined, { http: "http://stand-in.invalid:3128", noProxy: [] }],
  registries: [{}, { "stand-in.invalid": { server: "https://stand-in.invalid", mirrors: [] } }],
};

/**
 * The steps whose standard input carries a secret: those whose standard input changes when a
 * secret input is given another value. Worked out by rendering, so it holds whatever the plan does.
 */
export function secretStdinSteps(
  worker: string,
  options: WorkerOptions,
  resolved: ResolvedSecretInputs,
  arch: Arch,
): Set<StepId> {
  const stdinOf = (values: SecretCapableOptions) =>
    new Map(planWorker(worker, { ...options, ...values }, {}, arch).steps.map((step) => [step.id, step.stdin]));
  const real = stdinOf(resolved.values);
  const carrying = new Set<StepId>();
  for (const name of resolved.secret) {
    for (const standIn of STAND_INS[name]) {
      const other = stdinOf({ ...resolved.values, [name]: standIn });
      for (const [id, stdin] of real) if (other.get(id) !== stdin) carrying.add(id);
    }
  }
  return carrying;
}
