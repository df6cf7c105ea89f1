/**
 * Works around two bugs in tslab 1.0.22's converter, which rewrites references to earlier cells'
 * variables `x` as `exports.x` by asking the type checker what each identifier refers to:
 * - a shorthand property `{ a }` is not rewritten, so `a` from an earlier cell is "not defined";
 * - an identifier used as a property name (`{ tasks: t } = obj`, `{ tasks: 1 }`) whose property was
 *   declared in an earlier cell is rewritten too, producing invalid code (`const { exports, tasks: t }`).
 * Before conversion, every such property name is written as a string literal (`{ "a": a }`,
 * `{ "tasks": t }`), which means exactly the same in JavaScript and TypeScript and leaves no
 * identifier in name position for the converter to misread. Lines are unchanged, so tracebacks
 * still point at the cell's own lines.
 */
import type * as TS from "typescript";

type Edit = { start: number; end: number; text: string };

let tsModule: typeof TS | undefined;
function typescript(): typeof TS {
  // tslab's own TypeScript, which the kernel already loads (no extra dependency at run time).
  if (!tsModule) tsModule = require("@tslab/typescript-for-tslab") as typeof TS;
  return tsModule;
}

export function rewritePropertyNames(code: string): string {
  const ts = typescript();
  const source = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits: Edit[] = [];
  const quote = (name: TS.Identifier) => edits.push({ start: name.getStart(source), end: name.end, text: JSON.stringify(name.text) });
  const visit = (node: TS.Node): void => {
    if (ts.isShorthandPropertyAssignment(node)) {
      const name = node.name;
      edits.push({ start: name.getStart(source), end: name.getStart(source), text: `${JSON.stringify(name.text)}: ` });
    } else if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name)) {
      quote(node.name);
    } else if (ts.isBindingElement(node) && node.propertyName && ts.isIdentifier(node.propertyName)) {
      quote(node.propertyName);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (edits.length === 0) return code;
  let out = code;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
