/**
 * Generates components/schema.json: the component provider's schema, as the provider itself answers GetSchema
 * (started as its own process, as `pulumi package add` would start it). tests/provider/provider.test.ts fails
 * when the checked-in file and the code disagree.
 *
 *   npm run schema:provider
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";
import { PLUGIN_DIR, startProvider } from "../tests/provider/providerHarness";

export const PROVIDER_SCHEMA_JSON = path.join(PLUGIN_DIR, "schema.json");

/** The schema as the file holds it: prettier's JSON, so `npm run check` leaves it alone. */
export async function formatSchema(schema: unknown): Promise<string> {
  return prettier.format(JSON.stringify(schema), { filepath: PROVIDER_SCHEMA_JSON });
}

async function main(): Promise<void> {
  const provider = await startProvider();
  try {
    const schema = await provider.getSchema();
    fs.writeFileSync(PROVIDER_SCHEMA_JSON, await formatSchema(schema));
    console.log(`wrote ${path.relative(process.cwd(), PROVIDER_SCHEMA_JSON)}`);
  } finally {
    await provider.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
