/** Where a repository's configuration is: the nearest lanes.yaml up to the git root. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { PROJECT_FILE } from "./paths.js";

/** lanes.yaml in `repo` or the nearest parent up to (and including) the git root. */
export function findProject(repo: string): { projectFile: string | undefined; root: string } {
  let dir = repo;
  for (;;) {
    const candidate = join(dir, PROJECT_FILE);
    if (existsSync(candidate)) return { projectFile: candidate, root: dir };
    if (existsSync(join(dir, ".git")) || dirname(dir) === dir)
      return { projectFile: undefined, root: existsSync(join(dir, ".git")) ? dir : repo };
    dir = dirname(dir);
  }
}
