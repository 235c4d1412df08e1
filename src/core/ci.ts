/** The one CI detection: `CI` set to anything but "", "0" or "false", or a known provider. */
export type Env = Record<string, string | undefined>;

export interface CiInfo {
  provider: string;
  job?: string | undefined;
}

export function isCI(env: Env): boolean {
  return detectCi(env) !== undefined;
}

export function detectCi(env: Env): CiInfo | undefined {
  const job = (...parts: (string | undefined)[]) => parts.filter(Boolean).join("/");
  if (env.GITHUB_ACTIONS === "true")
    return { provider: "github", job: job(env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_JOB) };
  if (env.GITLAB_CI) return { provider: "gitlab", job: job(env.CI_PROJECT_PATH, env.CI_JOB_ID) };
  const ci = env.CI;
  if (ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false") return { provider: "ci" };
  return undefined;
}
