/**
 * A compiler watcher callback that throws (tslab's "Unexpected pending rebuildTimer") is reported and
 * dropped instead of escaping into Node's event loop, where it ended the kernel with SIGABRT.
 */
import type * as TS from "typescript";
import { describe, expect, it } from "vitest";
import { guardWatchCallbacks } from "../../kernel/tslab-hooks";

describe("compiler watchers", () => {
  it("report and drop a failing file or directory callback; a working one still runs", () => {
    const fired: Array<() => void> = [];
    const sys = {
      watchFile: (_p: string, cb: TS.FileWatcherCallback) => {
        fired.push(() => cb("/a.ts", 1));
        return { close() {} };
      },
      watchDirectory: (_p: string, cb: TS.DirectoryWatcherCallback) => {
        fired.push(() => cb("/dir/b.ts"));
        return { close() {} };
      },
    } as Pick<TS.System, "watchFile" | "watchDirectory">;
    const reported: unknown[] = [];
    guardWatchCallbacks(sys, (e) => reported.push(e));
    const seen: string[] = [];
    sys.watchFile!("/a.ts", () => {
      throw new Error("Unexpected pending rebuildTimer");
    });
    sys.watchDirectory!("/dir", () => {
      throw new Error("clearing unexpected tiemr");
    });
    sys.watchFile!("/a.ts", (name) => seen.push(name));
    for (const fire of fired) expect(fire).not.toThrow();
    expect(reported.map((e) => (e as Error).message)).toEqual(["Unexpected pending rebuildTimer", "clearing unexpected tiemr"]);
    expect(seen).toEqual(["/a.ts"]);
  });
});
