/**
 * The committed key data (components/catalog/containerdConfigKeys.json) is still what the
 * real containerd binaries of the release mirror print for `config default`:
 * a rebuilt mirror or a changed generator that disagrees fails here
 * (`npm run schema` regenerates the data).
 */
import { describe, expect, it } from "vitest";
import { CONTAINERD_SCHEMAS } from "../../components/catalog/containerdSchema";
import { configDefaults, schemaFile } from "../../tools/containerdSchema";

describe("containerd config keys per config version", () => {
  it("match what containerd 1.7.24 and 2.1.9 print for config default", async () => {
    expect(schemaFile(await configDefaults())).toEqual(CONTAINERD_SCHEMAS);
  });
});
