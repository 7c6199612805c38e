/** A register request's aliases as the engine reads them, shared by the driver's child and the unit tests' mocks. */
import type { AliasInfo } from "./engine";

interface AliasSpec {
  getName(): string;
  getType(): string;
  getStack(): string;
  getProject(): string;
  getParenturn(): string;
  getNoparent(): boolean;
}

/** The part of a RegisterResourceRequest that carries aliases. */
export interface AliasCarrier {
  getAliasesList(): { getUrn(): string; getSpec(): AliasSpec | undefined }[];
  getAliasurnsList(): string[];
}

/** The request's aliases: specs (a monitor that supports aliasSpecs) or, from an older SDK, URNs. */
export function aliasesOf(req: AliasCarrier): AliasInfo[] {
  const specs = req.getAliasesList().map((alias): AliasInfo => {
    const spec = alias.getSpec();
    if (!spec) return { urn: alias.getUrn() };
    return {
      spec: {
        name: spec.getName(),
        type: spec.getType(),
        stack: spec.getStack(),
        project: spec.getProject(),
        parentUrn: spec.getParenturn(),
        noParent: spec.getNoparent(),
      },
    };
  });
  return [...specs, ...req.getAliasurnsList().map((urn) => ({ urn }))];
}
