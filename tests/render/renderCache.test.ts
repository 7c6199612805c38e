import { describe, expect, it } from "vitest";
import { RenderCache } from "../../components/render/renderCache";

describe("RenderCache", () => {
  it("renders once per key, comparing keys as JSON", () => {
    const cache = new RenderCache<string[]>(8);
    let renders = 0;
    const render = () => {
      renders++;
      return ["rendered"];
    };
    const first = cache.get(["config", { version: "2.1.9" }], render);
    expect(cache.get(["config", { version: "2.1.9" }], render)).toBe(first);
    expect(cache.get(["config", { version: "1.7.24" }], render)).not.toBe(first);
    expect(renders).toBe(2);
  });

  it("keeps at most its limit, then starts afresh", () => {
    const cache = new RenderCache<number>(2);
    let renders = 0;
    const render = () => ++renders;
    cache.get("a", render);
    cache.get("b", render);
    cache.get("c", render); // over the limit: a and b are gone
    expect(cache.get("c", render)).toBe(3);
    expect(cache.get("a", render)).toBe(4);
    expect(renders).toBe(4);
  });
});
