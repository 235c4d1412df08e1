/** Who a run is charged to: user, team and project, from config and the environment. */
import { basename } from "node:path";
import { git } from "../adapters/git.js";
import { safeUser } from "../adapters/identity-source.js";
import type { Config } from "../adapters/config/schema.js";

export interface Identity {
  user: string;
  team: string;
  project: string;
}

export async function identityOf(config: Config, root: string): Promise<Identity> {
  let user = config.identity.user;
  if (!user) {
    const email = await git(["config", "user.email"], root);
    user = email.code === 0 && email.stdout.trim() ? email.stdout.trim() : safeUser();
  }
  return { user, team: config.identity.team ?? "default", project: config.identity.project ?? basename(root) };
}
