/**
 * Patches that edit what governs the repository: lanes.yaml, anything under .lanes/ (sandbox
 * image, templates, saved plans) and CI configuration. An agent must not be able to loosen its
 * own policy by writing it: such patches are flagged file by file and need their own approval.
 */
const POLICY_PATHS = [/^lanes\.ya?ml$/, /^\.lanes\//, /^\.github\/workflows\//, /^\.gitlab-ci\.ya?ml$/];

export function isPolicyPath(path: string): boolean {
  return POLICY_PATHS.some((re) => re.test(path));
}

/** Every file a unified git diff touches (both sides of a rename). */
export function filesOf(patch: string): string[] {
  const files = new Set<string>();
  for (const m of patch.matchAll(/^diff --git a\/(.+?) b\/(.+)$/gm)) {
    files.add(m[1]!);
    files.add(m[2]!);
  }
  return [...files];
}

export function policyEditsOf(patch: string): string[] {
  return filesOf(patch).filter(isPolicyPath);
}

/** The hunks of `patch` that touch `files`, to show a person before they approve them. */
export function hunksFor(patch: string, files: string[]): string {
  const parts = patch.split(/^(?=diff --git )/m);
  return parts.filter((p) => files.some((f) => p.startsWith(`diff --git a/${f} `) || p.includes(` b/${f}\n`))).join("");
}
