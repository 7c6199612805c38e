/** Renders /etc/crictl.yaml: crictl has no default socket, so the file names containerd's. */
import { stringify } from "yaml";
import { RUNTIME_ENDPOINT } from "../catalog/catalog";

/** Seconds crictl waits for the runtime, as in the article. */
export const CRICTL_TIMEOUT_SECONDS = 10;

export function renderCrictlConfig(): string {
  return stringify({
    "runtime-endpoint": RUNTIME_ENDPOINT,
    "image-endpoint": RUNTIME_ENDPOINT,
    timeout: CRICTL_TIMEOUT_SECONDS,
  });
}
