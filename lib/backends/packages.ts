/**
 * Installed packages' manifests, read through the backend loaders (so tests can fake them): the one
 * lookup behind the backend candidates' versions and the doctor's package list.
 */
import { loaders } from "./loaders";

/** The installed package's package.json name and version, or undefined when it is not installed. */
export function installedPackage(pkg: string): { name?: string; version?: string } | undefined {
  try {
    return loaders.require(`${pkg}/package.json`) as { name?: string; version?: string };
  } catch {
    return undefined;
  }
}

/**
 * The installed version of `pkg`, or null when it is not installed. An npm alias (danfojs-node's
 * `@tensorflow/tfjs-node` is plain tfjs through package.json's overrides) is not the package: null.
 */
export function packageVersion(pkg: string): string | null {
  const manifest = installedPackage(pkg);
  return manifest && manifest.name === pkg ? (manifest.version ?? "?") : null;
}
