/**
 * Writing files so that nothing the user made is ever half-written: data goes to a temporary name
 * in the same folder, is flushed to disk (fsync), and is renamed over the target (atomic on POSIX).
 * Files and folders are created owner-only (0600 / 0700).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

let counter = 0;

/** A temporary name beside `path` that no other writer uses. */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}-${++counter}`);
}

/** Writes and fsyncs a file at `path` (not atomic by itself; callers rename). */
export function writeFileSynced(path: string, data: string | Uint8Array, mode = 0o600): void {
  const fd = openSync(path, "w", mode);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Flushes a folder's entries (so a rename inside it survives a crash). */
export function fsyncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on folders; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Replaces `path` atomically with `data`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = temporaryPath(path);
  writeFileSynced(tmp, data, mode);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/**
 * Writes the folder `target` with `files` (name → content) atomically: the files go into a temporary
 * folder beside it, are flushed, and the folder is renamed into place. A folder already at `target`
 * is moved aside first and removed after, so a complete copy exists at every moment. On failure the
 * temporary folder is removed and the error is rethrown (`target` as it was).
 */
export function writeFolderAtomic(
  target: string,
  files: Record<string, string | Uint8Array>,
  modes: { folder?: number; file?: number } = {},
): void {
  mkdirSync(dirname(target), { recursive: true, mode: modes.folder ?? 0o700 });
  const tmp = temporaryPath(target);
  mkdirSync(tmp, { mode: modes.folder ?? 0o700 });
  try {
    for (const [name, data] of Object.entries(files)) writeFileSynced(join(tmp, name), data, modes.file ?? 0o600);
    fsyncDir(tmp);
    if (existsSync(target)) {
      const old = temporaryPath(target);
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
    fsyncDir(dirname(target));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
