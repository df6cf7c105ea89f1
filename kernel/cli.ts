#!/usr/bin/env node
/**
 * mtlkit command line:
 *   mtlkit kernel install   [--user | --sys-prefix | --prefix DIR | --jupyter-dir DIR] [--name NAME] [--heap-mb N]
 *   mtlkit kernel uninstall [--user | --sys-prefix | --prefix DIR | --jupyter-dir DIR] [--name NAME]
 *   mtlkit kernel start --connection-file FILE [--heap-mb N] [--no-supervisor]
 *   mtlkit kernel snapshot [--folder DIR] [--heap-mb N]   (build the kernel's start-up snapshot for DIR now: snapshot.ts)
 *   mtlkit run <notebook.ipynb | dir…> (--out DIR | --inplace) [--timeout S] [--grace S] [--allow-errors] [--kernel NAME]
 *   mtlkit doctor [--json]
 *   mtlkit export-web <modelDir> --out DIR [--title TEXT] [--examples ROWS.json]
 *   mtlkit sweep DEFINITION [--workers N] [--results FILE] [--queue URL] …   (kernel/sweepCli.ts)
 *   mtlkit worker --queue URL [--workers N] …
 */
import * as path from "path";
import { EXPORT_WEB_USAGE, parseExportWebArgs } from "./exportWebCli";
import { DEFAULT_KERNEL_NAME, install, InstallError, Location, uninstall } from "./install";
import { SWEEP_USAGE } from "./sweepCli";

const USAGE = `usage:
  mtlkit kernel install   [--user | --sys-prefix | --prefix DIR | --jupyter-dir DIR] [--name NAME] [--heap-mb N]
  mtlkit kernel uninstall [--user | --sys-prefix | --prefix DIR | --jupyter-dir DIR] [--name NAME]
  mtlkit kernel start --connection-file FILE [--heap-mb N] [--no-supervisor]
  mtlkit kernel snapshot [--folder DIR] [--heap-mb N]
  mtlkit run <notebook.ipynb | dir...> (--out DIR | --inplace) [--timeout SECONDS] [--grace SECONDS]
             [--allow-errors] [--kernel NAME]
  mtlkit doctor [--json]
${EXPORT_WEB_USAGE}
${SWEEP_USAGE}`;

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

function parseArgs(args: string[], withValue: string[], flags: string[]): Parsed {
  const out: Parsed = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (withValue.includes(name)) {
        const v = eq > 0 ? a.slice(eq + 1) : args[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        out.values.set(name, v);
      } else if (flags.includes(name) && eq < 0) {
        out.flags.add(name);
      } else {
        throw new UsageError(`unknown option ${a}`);
      }
    } else {
      out.positional.push(a);
    }
  }
  return out;
}

function location(p: Parsed): Location {
  return {
    user: p.flags.has("user"),
    sysPrefix: p.flags.has("sys-prefix"),
    prefix: p.values.get("prefix"),
    jupyterDir: p.values.get("jupyter-dir"),
  };
}

/** --heap-mb: the kernel's JavaScript heap limit in MiB. */
function heapOption(p: Parsed): number | undefined {
  const raw = p.values.get("heap-mb");
  if (raw === undefined) return undefined;
  const mb = Number(raw);
  // The kernel itself (the TypeScript compiler with mtlkit's types loaded) uses about 100 MiB.
  if (!Number.isInteger(mb) || mb < 160) throw new UsageError(`--heap-mb must be a whole number of MiB, at least 160 (got ${raw})`);
  return mb;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "kernel") {
    const [sub, ...args] = rest;
    if (sub === "start") {
      const p = parseArgs(args, ["connection-file", "heap-mb"], ["no-supervisor"]);
      const file = p.values.get("connection-file") ?? p.positional[0];
      if (!file) throw new UsageError("kernel start needs --connection-file FILE");
      const heapMb = heapOption(p);
      if (p.flags.has("no-supervisor")) {
        if (heapMb !== undefined) throw new UsageError("--heap-mb needs the supervisor (set node's --max-old-space-size yourself)");
        const { runKernel } = await import("./main");
        await runKernel(file);
      } else {
        // The kernel runs as a child of this process, which restarts it if it dies (supervisor.ts).
        const { readConnectionFile } = await import("./protocol/connection");
        readConnectionFile(file); // a bad file is reported here, not as a crash loop
        const { Supervisor } = await import("./supervisor");
        new Supervisor(file, { heapMb }).start();
      }
      return -1; // keep running
    }
    if (sub === "snapshot") {
      // Build the start-up snapshot now (snapshot.ts), or wait for another process building it.
      const p = parseArgs(args, ["record", "out", "heap-mb", "folder"], []);
      const record = p.values.get("record");
      if (record) {
        const { recordHere } = await import("./snapshot");
        await recordHere(record, p.values.get("out") ?? "");
        process.exit(0); // the compiler's file watchers would keep this process alive
      }
      const { buildSnapshotLocked } = await import("./snapshot");
      const blob = await buildSnapshotLocked(heapOption(p), path.resolve(p.values.get("folder") ?? "."));
      if (!blob) throw new InstallError("no start-up snapshot: another process was building it and did not finish");
      console.log(`Kernel start-up snapshot: ${blob}`);
      return 0;
    }
    if (sub === "install" || sub === "uninstall") {
      const p = parseArgs(args, ["prefix", "jupyter-dir", "name", "heap-mb"], ["user", "sys-prefix"]);
      if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
      const name = p.values.get("name") ?? DEFAULT_KERNEL_NAME;
      if (sub === "install") {
        const dir = install(location(p), name, { heapMb: heapOption(p) });
        console.log(`Installed kernelspec ${name} in ${dir}`);
        // The start-up snapshot (snapshot.ts), so that the first kernel starts fast too; optional.
        const { ensureSnapshot } = await import("./snapshot");
        // For notebooks in mtlkit's package and in this folder (a blob per set of @types folders).
        const { MTLKIT_ROOT } = await import("./resolution");
        for (const folder of new Set([MTLKIT_ROOT, process.cwd()])) {
          const blob = ensureSnapshot(heapOption(p), folder);
          if (blob) console.log(`Kernel start-up snapshot: ${blob}`);
        }
      } else {
        const dir = uninstall(location(p), name);
        console.log(dir ? `Removed kernelspec ${name} from ${dir}` : `No kernelspec ${name} was installed there`);
      }
      return 0;
    }
    throw new UsageError(`unknown kernel command ${sub ?? "(none)"}`);
  }
  if (cmd === "run") {
    const p = parseArgs(rest, ["out", "timeout", "grace", "kernel"], ["allow-errors", "inplace"]);
    if (p.positional.length === 0) throw new UsageError("run needs at least one notebook");
    const seconds = (name: string) => {
      if (!p.values.has(name)) return undefined;
      const v = Number(p.values.get(name));
      if (!(v > 0 && Number.isFinite(v))) throw new UsageError(`--${name} must be a positive number of seconds`);
      return v;
    };
    const timeout = seconds("timeout");
    const grace = seconds("grace");
    if (p.values.has("out") === p.flags.has("inplace")) {
      throw new UsageError(
        p.flags.has("inplace")
          ? "choose one of --out DIR and --inplace"
          : "run needs --out DIR (where executed copies go) or --inplace (overwrite the notebooks)",
      );
    }
    const { runNotebooks } = await import("./runner/run");
    const { MtlError } = await import("../lib/errors");
    try {
      const ok = await runNotebooks(p.positional, {
        outDir: p.values.get("out"),
        inplace: p.flags.has("inplace"),
        timeoutSeconds: timeout,
        graceSeconds: grace,
        allowErrors: p.flags.has("allow-errors"),
        kernelName: p.values.get("kernel"),
      });
      return ok ? 0 : 1;
    } catch (e) {
      if (!(e instanceof MtlError)) throw e;
      console.error(`mtlkit: ${e.message}`);
      return 1;
    }
  }
  if (cmd === "doctor") {
    const p = parseArgs(rest, [], ["json"]);
    if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}`);
    const { doctor } = await import("../lib/doctor");
    const { formatDoctor } = await import("./doctor");
    const report = await doctor();
    console.log(p.flags.has("json") ? JSON.stringify(report, null, 2) : formatDoctor(report));
    return 0;
  }
  if (cmd === "export-web") {
    const parsed = parseExportWebArgs(rest);
    if (typeof parsed === "string") throw new UsageError(parsed);
    const { runExportWeb } = await import("./exportWebCli");
    return runExportWeb(parsed);
  }
  if (cmd === "sweep" || cmd === "worker") {
    const { sweepMain } = await import("./sweepCli");
    return sweepMain(cmd, rest);
  }
  if (cmd === "--help" || cmd === "-h" || cmd === "help" || cmd === undefined) {
    console.log(USAGE);
    return cmd === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown command ${cmd}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e: Error) => {
    if (e instanceof UsageError) {
      console.error(`mtlkit: ${e.message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (e instanceof InstallError) {
      console.error(`mtlkit: ${e.message}`);
      process.exitCode = 1;
    } else {
      console.error(`mtlkit: ${e.stack ?? e.message}`);
      process.exitCode = 1;
    }
  },
);
