import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Removes the entries of the cache directory whose names match `pattern` and that nothing has used for an hour
 * (older recipes, abandoned builds), and marks those in `keep` as in use now, so that another process's prune
 * keeps them.
 */
export function pruneStale(cache: string, pattern: RegExp, keep: readonly string[]): void {
  const now = new Date();
  const hourAgo = now.getTime() - 3600_000;
  let names: string[];
  try {
    names = fs.readdirSync(cache);
  } catch {
    return; // no cache yet
  }
  for (const name of names) {
    const dir = path.join(cache, name);
    if (!pattern.test(name)) continue;
    try {
      if (keep.includes(dir)) fs.utimesSync(dir, now, now);
      else if (fs.statSync(dir).mtimeMs < hourAgo) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Raced with another process's cleanup: nothing to do.
    }
  }
}
