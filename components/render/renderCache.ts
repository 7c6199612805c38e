/**
 * Renders kept by what they were made from: a fleet's workers share their config, unit, files and script
 * pieces, so each is made once per distinct input instead of once per worker.
 */
export class RenderCache<T> {
  private readonly kept = new Map<string, T>();

  /** `limit`: the most renders kept; past it the cache starts afresh, so a long-lived process stays bounded. */
  constructor(private readonly limit: number) {}

  /** What `render` returns for `key` (compared as JSON), made once. The value is shared: treat it as immutable. */
  get(key: unknown, render: () => T): T {
    const text = JSON.stringify(key);
    const known = this.kept.get(text);
    if (known !== undefined) return known;
    const value = render();
    if (this.kept.size >= this.limit) this.kept.clear();
    this.kept.set(text, value);
    return value;
  }
}
