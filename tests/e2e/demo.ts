/**
 * `npm run demo`: the library on this machine, no AWS and no Pulumi CLI.
 * Boots one sandbox worker (systemd, sshd, an ubuntu user with sudo), serves
 * real release binaries from a local mirror, applies the project's program to
 * the worker as `pulumi up` would, prints the stack outputs and the worker's
 * own `crictl version`, then stops the worker.
 */
import { expectOk, startLab } from "./lab";

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log("preparing the sandbox worker and the release mirror (the first run builds both: about 2 minutes)");
  const lab = await startLab({
    workers: 1,
    log: (line) => console.log(`  ${line}`),
    onOperation: (event) => {
      if (event.kind === "end" && event.record.command !== undefined) {
        const { name, command, error, endedAt, startedAt } = event.record;
        console.log(
          `  ${error ? "FAILED" : "done  "} ${name} (${command}, ${((endedAt - startedAt) / 1000).toFixed(1)}s)`,
        );
      }
    },
  });
  try {
    const worker = lab.workers[0];
    if (!worker) throw new Error("no worker booted");
    console.log(`worker ${worker.name} at ${worker.host}, mirror at ${lab.mirror.baseUrl} (${elapsed(started)})`);
    console.log("pulumi up:");
    const result = expectOk(await lab.up());
    console.log(`stack outputs (${elapsed(started)}):`);
    console.log(JSON.stringify(result.outputs, null, 2));
    const crictl = await worker.ssh("sudo -n crictl version");
    console.log(`${worker.name}$ sudo crictl version`);
    console.log(crictl.stdout.trimEnd());
    console.log("pulumi up again (nothing to do):");
    const again = expectOk(await lab.up());
    console.log(`  ${again.operations.filter((op) => op.command !== undefined).length} commands ran`);
  } finally {
    await lab.stop();
  }
  console.log(`done in ${elapsed(started)}; the worker is stopped`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
