/**
 * Files lanes ships beside its code (the sandbox shim, the price table, workers, templates),
 * found from one place. The built CLI runs as bundled chunks in dist/bundle/ while the unbundled
 * modules stay in dist/ (workers load those) and tests run the sources in src/: all three sit
 * one directory below the package root, as this file does, so paths from here hold in each.
 */

/** A file under the code's root (dist/ when built, src/ from sources), e.g. "adapters/docker/shim.py". */
export function ownFile(path: string): URL {
  return new URL(`../${path}`, import.meta.url);
}

/** A file under the package root, e.g. "templates/tasks/" or "package.json". */
export function packageFile(path: string): URL {
  return new URL(`../../${path}`, import.meta.url);
}
