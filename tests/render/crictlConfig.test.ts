import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderCrictlConfig } from "../../components/render/crictlConfig";

describe("renderCrictlConfig", () => {
  it("points crictl at containerd's socket for runtime and images, with the article's timeout", () => {
    expect(parse(renderCrictlConfig())).toEqual({
      "runtime-endpoint": "unix:///run/containerd/containerd.sock",
      "image-endpoint": "unix:///run/containerd/containerd.sock",
      timeout: 10,
    });
  });
});
