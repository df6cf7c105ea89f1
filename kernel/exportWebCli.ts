/**
 * `mtlkit export-web <modelDir> --out <dir> [--title TEXT] [--examples FILE.json]`: writes the static
 * web page of a model saved with `model.save` (see lib/deploy/web/exportWeb.ts and docs/deploy.md).
 * --examples names a JSON file holding the input rows the page starts with ([[…], […]]).
 */
import { readFileSync } from "node:fs";

/** Usage lines for the command, shown by `mtlkit --help`. */
export const EXPORT_WEB_USAGE = "  mtlkit export-web <modelDir> --out DIR [--title TEXT] [--examples ROWS.json]";

/** Parsed arguments, or the message of a usage error. */
export interface ExportWebArgs {
  modelDir: string;
  out: string;
  title?: string;
  examplesFile?: string;
}

/** Parses `export-web`'s arguments (after the command name); returns a usage message on error. */
export function parseExportWebArgs(args: string[]): ExportWebArgs | string {
  const values = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (!["out", "title", "examples"].includes(name)) return `unknown option ${a}`;
    const v = eq > 0 ? a.slice(eq + 1) : args[++i];
    if (v === undefined) return `--${name} needs a value`;
    values.set(name, v);
  }
  if (positional.length !== 1)
    return positional.length === 0 ? "export-web needs the folder of a saved model" : `unexpected argument ${positional[1]}`;
  const out = values.get("out");
  if (!out) return "export-web needs --out DIR (where the page goes)";
  return { modelDir: positional[0], out, title: values.get("title"), examplesFile: values.get("examples") };
}

/** Runs the command; returns the exit code (0 written, 1 refused with a message on stderr). */
export async function runExportWeb(args: ExportWebArgs): Promise<number> {
  const { exportWeb } = await import("../lib/deploy/web/exportWeb");
  const { MtlError } = await import("../lib/errors");
  try {
    let examples: number[][] | undefined;
    if (args.examplesFile !== undefined) {
      try {
        examples = JSON.parse(readFileSync(args.examplesFile, "utf8")) as number[][];
      } catch (e) {
        throw new MtlError(`export-web --examples ${args.examplesFile}`, `could not read the rows (${(e as Error).message}).`);
      }
    }
    const page = await exportWeb(args.modelDir, args.out, { title: args.title, examples });
    console.log(`Wrote ${page}: open it in a browser (file:// works) or serve its folder with any static server.`);
    return 0;
  } catch (e) {
    if (!(e instanceof MtlError)) throw e;
    console.error(`mtlkit: ${e.message}`);
    return 1;
  }
}
