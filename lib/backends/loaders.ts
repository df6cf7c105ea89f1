/**
 * The one place backend code loads optional packages. Tests replace these functions to simulate a
 * backend that is installed, missing, or installed but broken (its import throws), without touching
 * node_modules.
 */
export const loaders = {
  /** `require(id)`: loads a package (or a native `.node` file) into this process. */
  require(id: string): unknown {
    return require(id);
  },
  /** `require.resolve(id)`: where a package would load from; throws when it is not installed. */
  resolve(id: string): string {
    return require.resolve(id);
  },
};

/** The loaders as shipped, so a test can put them back. */
export const defaultLoaders = { ...loaders };

export function restoreLoaders(): void {
  Object.assign(loaders, defaultLoaders);
}

/** The first line of an error's message, trimmed to a readable length. */
export function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0].slice(0, 300);
}
