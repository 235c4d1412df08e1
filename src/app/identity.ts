/**
 * Who a run is charged to. The user is what they cannot choose: the OS account, or the org
 * policy's `identity.user` (a CI runner's service identity). git's user.email, LANES_USER and a
 * user setting are claims: shown and recorded beside the user, never the budget's key.
 */
import { basename } from "node:path";
import { git } from "../adapters/git.js";
import { safeUser } from "../adapters/identity-source.js";
import type { Config } from "../adapters/config/schema.js";

export interface Identity {
  user: string;
  team: string;
  project: string;
  /** What the user says they are (LANES_USER, settings, git's email), when it differs from `user`. */
  claimed?: string | undefined;
}

export async function identityOf(config: Config, root: string): Promise<Identity> {
  const user = config.identity.policyUser ?? safeUser();
  let claimed = config.identity.user;
  if (!claimed) {
    const email = await git(["config", "user.email"], root);
    claimed = email.code === 0 && email.stdout.trim() ? email.stdout.trim() : undefined;
  }
  return {
    user,
    team: config.identity.team ?? "default",
    project: config.identity.project ?? basename(root),
    ...(claimed && claimed !== user ? { claimed } : {}),
  };
}
