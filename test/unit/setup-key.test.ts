/** The dependency cache's key follows the image's content (its ID), not only its name. */
import { describe, expect, it } from "vitest";
import { setupKey } from "../../src/app/setup-step.js";
import { setupSchema } from "../../src/adapters/config/schema.js";
import { gitRepo, tempHome } from "../helpers/cli.js";

describe("setupKey", () => {
  it("changes when the image under the same name is rebuilt (another ID)", () => {
    const repo = gitRepo(tempHome().dir, "repo", { "package-lock.json": "{}\n" });
    const setup = setupSchema.parse({ commands: ["npm ci"], key: ["package-lock.json"] });
    const old = setupKey(setup, repo, "lanes-sandbox:latest", "sha256:aaa");
    expect(setupKey(setup, repo, "lanes-sandbox:latest", "sha256:aaa")).toBe(old);
    expect(setupKey(setup, repo, "lanes-sandbox:latest", "sha256:bbb")).not.toBe(old);
  });
});
