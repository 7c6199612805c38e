/**
 * Inputs given as Outputs (a secret, an instance's attribute): their values, checked once known, and
 * which of them were secrets. Plain inputs are checked at construction; these once they resolve, by the
 * same checks and with the same messages. The secret-capable inputs (see SECRET_CAPABLE_INPUTS) are
 * never in a script (planWorker sends them on standard input), so a secret one makes only the standard
 * inputs that carry it secret and every script stays readable in `preview --diff`; a secret given for
 * any other input makes the scripts secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { Arch } from "../catalog/catalog";
import {
  isDeepPlain,
  OptionName,
  resolveOptions,
  resolveSecretCapable,
  SECRET_CAPABLE_INPUTS,
  SecretCapableInput,
  SecretCapableOptions,
  WorkerOptions,
} from "../inputs/options";
import { StepId } from "../catalog/stepIds";
import { planWorker } from "../plan/workerPlan";

export { isDeepPlain };

/** The inputs known only later, once known and checked, and the names of those that were secrets. */
export interface ResolvedInputs {
  values: Partial<WorkerOptions>;
  secret: OptionName[];
}

/** True for the inputs that may be secrets without making a script secret. */
export const isSecretCapable = (name: OptionName): name is SecretCapableInput =>
  (SECRET_CAPABLE_INPUTS as readonly string[]).includes(name);

/**
 * Waits for the inputs `later` names, notes which are secrets, and checks all of `given` with their
 * values (`check` turns an InvalidInputError into the component's error); hands on the checked values
 * of `later`. The result itself is not secret: what carries a secret is made secret where it is used.
 */
export function resolveLaterInputs(
  given: Partial<Record<OptionName, unknown>>,
  check: <T>(resolve: () => T) => T,
  later: readonly OptionName[] = SECRET_CAPABLE_INPUTS,
): pulumi.Output<ResolvedInputs> {
  const inputs = later.map((name) => {
    const value = pulumi.output(given[name]);
    return pulumi.all([pulumi.unsecret(value), pulumi.output(pulumi.isSecret(value))]);
  });
  return pulumi.all(inputs).apply((pairs) => {
    const plain: Partial<Record<OptionName, unknown>> = { ...given };
    const secret: OptionName[] = [];
    pairs.forEach(([value, isSecret], index) => {
      const name = later[index] as OptionName;
      plain[name] = value;
      if (isSecret) secret.push(name);
    });
    // A `check` that records the error rather than throwing it hands back nothing.
    const options: Partial<WorkerOptions> = check(() => resolveOptions(plain, new Set(secret))) ?? {};
    const values = Object.fromEntries(later.map((name) => [name, options[name]])) as Partial<WorkerOptions>;
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
  resolved: ResolvedInputs,
  arch: Arch,
): Set<StepId> {
  const stdinOf = (values: Partial<WorkerOptions>) =>
    new Map(planWorker(worker, { ...options, ...values }, {}, arch).steps.map((step) => [step.id, step.stdin]));
  const real = stdinOf(resolved.values);
  const carrying = new Set<StepId>();
  for (const name of resolved.secret.filter(isSecretCapable)) {
    for (const standIn of STAND_INS[name]) {
      const other = stdinOf({ ...resolved.values, [name]: standIn });
      for (const [id, stdin] of real) if (other.get(id) !== stdin) carrying.add(id);
    }
  }
  return carrying;
}
