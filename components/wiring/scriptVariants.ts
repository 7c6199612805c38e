/**
 * Script variants: which of a worker's step texts (scripts and standard inputs) are plain text when the program
 * runs, and what each of the others waits for.
 *
 * Why: a text known when the program runs shows whole in `pulumi preview --diff`, and its step starts at once
 * (the ready step's first command overlaps the drift read). Some texts depend on what only the worker can tell:
 * the repair count of a step that drifted (drift/hostDrift.ts) and, with `arch: "auto"`, the arch its ready step
 * reports; others on inputs given as Outputs. Rather than track which value reaches which text, the worker is
 * planned again with every drifting step repaired once, and for every arch it may turn out to be: a text that
 * differs among those variants reads the worker, and only such a text waits for the drift read. The rest wait,
 * at most, for the inputs that come later.
 */
import * as pulumi from "@pulumi/pulumi";
import { Arch, ARCH_CHOICES, ArchChoice, ARCHES } from "../catalog/catalog";
import { DriftingStep, DRIFTING_STEPS, StepId } from "../catalog/stepIds";
import { WorkerOptions } from "../inputs/options";
import { planWorker, Step, WorkerPlan } from "../plan/workerPlan";
import { isSecretCapable, ResolvedInputs, secretStdinSteps } from "./laterInputs";

export type StepText = "create" | "update" | "delete" | "stdin";

/** A plan made once what it depends on is known, with which of its texts carry a secret. */
interface Planned {
  plan: WorkerPlan;
  /** Steps whose standard input carries a secret input. */
  secretStdin: Set<StepId>;
  /** A secret input reaches the scripts themselves: every text is secret. */
  secretScripts: boolean;
}

/** The inputs known later when there are none: every one is already in the options. */
const NO_LATER_INPUTS: ResolvedInputs = { values: {}, secret: [] };

export interface ScriptVariantsArgs {
  name: string;
  /** The options known now; those given as Outputs hold their defaults until `laterInputs` resolves. */
  options: WorkerOptions;
  /** The arch planned for now: the given one, or the default while the worker has not said. */
  knownArch: Arch;
  /** `arch` is an Output: the worker may be any arch. */
  archLater: boolean;
  /** Each drifting step's repair count as read from the worker; absent without drift detection. */
  generations?: pulumi.Output<Partial<Record<DriftingStep, number>>>;
  /** The inputs given as Outputs, checked, once they resolve. */
  laterInputs?: pulumi.Output<ResolvedInputs>;
  /** A later input reaches a script (not only a standard input): every text waits for the later inputs. */
  scriptsWait: boolean;
  /** Runs a check, turning an invalid input into the component's error. */
  validated: <T>(check: () => T) => T;
}

export class ScriptVariants {
  /** The plan with every drifting step repaired once: where the generations read would show. */
  private readonly repaired?: WorkerPlan;
  /** Per arch the worker may be: its plan for the arch planned now, and for each other arch. */
  private readonly archVariants: { base: WorkerPlan; others: WorkerPlan[] }[];
  private afterWorkerRead?: pulumi.Output<Planned>;
  private settledPlan?: pulumi.Output<Planned>;

  constructor(private readonly args: ScriptVariantsArgs) {
    const { name, options, knownArch } = args;
    this.repaired = args.generations
      ? planWorker(name, options, Object.fromEntries(DRIFTING_STEPS.map((id) => [id, 1])), knownArch)
      : undefined;
    const choices: ArchChoice[] = args.archLater ? [...ARCH_CHOICES] : options.arch === "auto" ? ["auto"] : [];
    this.archVariants = choices.map((choice) => {
      const withChoice = { ...options, arch: choice };
      const others = ARCHES.filter((arch) => arch !== knownArch).map((arch) => planWorker(name, withChoice, {}, arch));
      return { base: planWorker(name, withChoice, {}, knownArch), others };
    });
  }

  /**
   * A step's text: the plain one when it reads nothing from the worker and no later input; otherwise an Output
   * of the plan made once those are known (`reportedArch`: the arch the ready step reports, once it has run),
   * secret where it carries a secret input.
   */
  text(step: Step, kind: StepText, reportedArch: pulumi.Input<Arch>): pulumi.Input<string> | undefined {
    const fixed = step[kind];
    if (fixed === undefined) return undefined;
    const readsWorker = this.readsWorker(step.id, kind, fixed);
    const waitsForInputs = this.args.laterInputs !== undefined && (kind === "stdin" || this.args.scriptsWait);
    if (!readsWorker && !waitsForInputs) return fixed;
    const source = readsWorker
      ? (this.afterWorkerRead ??= this.planFrom(this.args.generations ?? {}, reportedArch))
      : this.settled();
    return source.apply(({ plan, secretStdin, secretScripts }): pulumi.Output<string> => {
      const value = plan.steps.find((s) => s.id === step.id)?.[kind] ?? "";
      const secret = secretScripts || (kind === "stdin" && secretStdin.has(step.id));
      return secret ? pulumi.secret(value) : pulumi.output(value);
    });
  }

  /** The plan once the later inputs are known, before the worker is read. */
  settled(): pulumi.Output<Planned> {
    return (this.settledPlan ??= this.planFrom({}, this.args.knownArch));
  }

  /** Whether a text differs with the generations read or with the arch the worker reports. */
  private readsWorker(id: StepId, kind: StepText, text: string): boolean {
    const textIn = (plan: WorkerPlan) => plan.steps.find((s) => s.id === id)?.[kind];
    return (
      (this.repaired !== undefined && textIn(this.repaired) !== text) ||
      this.archVariants.some(({ base, others }) => others.some((other) => textIn(other) !== textIn(base)))
    );
  }

  private planFrom(
    generationsRead: pulumi.Input<Partial<Record<DriftingStep, number>>>,
    reportedArch: pulumi.Input<Arch>,
  ): pulumi.Output<Planned> {
    const { name, options, validated } = this.args;
    return pulumi
      .all([generationsRead, reportedArch, this.args.laterInputs ?? NO_LATER_INPUTS])
      .apply(([read, reported, resolved]) => {
        const resolvedOptions = { ...options, ...resolved.values };
        const planArch = resolvedOptions.arch === "auto" ? reported : resolvedOptions.arch;
        return {
          plan: validated(() => planWorker(name, resolvedOptions, read, planArch)),
          secretStdin: secretStdinSteps(name, resolvedOptions, resolved, planArch),
          secretScripts: resolved.secret.some((input) => !isSecretCapable(input)),
        };
      });
  }
}
