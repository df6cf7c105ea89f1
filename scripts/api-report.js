#!/usr/bin/env node
/**
 * The API report: every name `import * as mtl from "mtlkit"` gives, namespace by namespace, with its kind
 * (namespace, class, function, const, interface, type, enum), read from lib/index.ts by the TypeScript
 * compiler. `api/mtlkit.api.md` holds the reviewed report; test/api/report.test.ts fails when the
 * surface differs from it, so every change to the public API shows in a diff.
 *
 *   node scripts/api-report.js            print the report
 *   node scripts/api-report.js --update   rewrite api/mtlkit.api.md (npm run api:update)
 */
const path = require("node:path");
const fs = require("node:fs");
const ts = require("typescript");

const ROOT = path.resolve(__dirname, "..");
const ENTRY = path.join(ROOT, "lib", "index.ts");
const REPORT = path.join(ROOT, "api", "mtlkit.api.md");

/** The kinds of one exported symbol, after following `export { x } from` aliases. */
function kindsOf(checker, symbol) {
  const s = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const f = s.flags;
  const kinds = [];
  if (f & ts.SymbolFlags.Class) kinds.push("class");
  if (f & ts.SymbolFlags.Function) kinds.push("function");
  if (f & ts.SymbolFlags.Variable) kinds.push(isConst(s) ? "const" : "let");
  if (f & ts.SymbolFlags.Enum) kinds.push("enum");
  if (f & ts.SymbolFlags.Interface && !(f & ts.SymbolFlags.Class)) kinds.push("interface");
  if (f & ts.SymbolFlags.TypeAlias) kinds.push("type");
  if (
    f & (ts.SymbolFlags.ValueModule | ts.SymbolFlags.NamespaceModule) &&
    !(f & (ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Enum))
  )
    kinds.push("namespace");
  return { target: s, kinds };
}

function isConst(symbol) {
  const d = symbol.valueDeclaration;
  return !!d && ts.isVariableDeclaration(d) && !!(ts.getCombinedNodeFlags(d) & ts.NodeFlags.Const);
}

/**
 * Whether a public name has a doc comment: on one of its declarations (a function's first overload or
 * its implementation), or for a namespace, the module comment (`@module`) at the top of its file.
 */
function isDocumented(checker, symbol) {
  if (symbol.getDocumentationComment(checker).length > 0) return true;
  for (const d of symbol.declarations ?? []) {
    if (ts.isSourceFile(d)) {
      const first = d.statements[0];
      const comments = first ? (ts.getLeadingCommentRanges(d.text, first.getFullStart()) ?? []) : [];
      if (comments.some((c) => /@module|@packageDocumentation/.test(d.text.slice(c.pos, c.end)))) return true;
    } else if (ts.getJSDocCommentsAndTags(d).length > 0) return true;
  }
  return false;
}

/** The module a namespace export stands for, and whether it is mtlkit's own (then its names are listed too). */
function ownModule(target) {
  const decl = target.declarations?.[0];
  const file = decl?.getSourceFile().fileName ?? "";
  return !path.relative(ROOT, file).startsWith("..") && !file.includes("node_modules") ? file : undefined;
}

/**
 * Every public name: its namespace path (`mtl`, `mtl.tasks`, …), name, kinds, and the declaration it
 * stands for (file:offset), so a test can tell when one thing is exported under two names.
 */
function apiEntries() {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, "tsconfig.json"),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  const program = ts.createProgram([ENTRY], { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const entries = [];
  const visit = (moduleSymbol, namespace) => {
    for (const exp of checker.getExportsOfModule(moduleSymbol)) {
      const { target, kinds } = kindsOf(checker, exp);
      const decl = target.declarations?.[0];
      const documented = isDocumented(checker, target);
      const declaration = decl ? `${path.relative(ROOT, decl.getSourceFile().fileName)}:${decl.getStart()}` : "?";
      if (kinds.includes("namespace")) {
        if (ownModule(target)) {
          entries.push({ namespace, name: exp.name, kind: "namespace", declaration, documented });
          visit(target, `${namespace}.${exp.name}`);
        } else {
          const from = decl?.getSourceFile().fileName.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1];
          entries.push({ namespace, name: exp.name, kind: `namespace (${from ?? "external"})`, declaration, documented: true });
        }
      } else {
        entries.push({ namespace, name: exp.name, kind: kinds.join(" + ") || "unknown", declaration, documented });
      }
    }
  };
  visit(checker.getSymbolAtLocation(program.getSourceFile(ENTRY)), "mtl");
  return entries;
}

const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/** The report's text: one section per namespace (`mtl` first, then the others by path), names sorted, each with its kinds. */
function apiReport(entries = apiEntries()) {
  const namespaces = [...new Set(entries.map((e) => e.namespace))].sort((a, b) => (a === "mtl" ? -1 : b === "mtl" ? 1 : byText(a, b)));
  const out = [
    "# mtlkit's public API",
    "",
    "<!-- Generated from lib/index.ts by `npm run api:update`; test/api/report.test.ts fails when the exports differ. -->",
    'Every name `import * as mtl from "mtlkit"` gives, by namespace, with its kind. A change here is a change',
    "to the public API: review it, and say it in CHANGELOG.md.",
  ];
  for (const ns of namespaces) {
    out.push("", `## ${ns}`, "");
    for (const e of entries.filter((x) => x.namespace === ns).sort((a, b) => byText(a.name, b.name))) out.push(`- \`${e.name}\` ${e.kind}`);
  }
  return `${out.join("\n")}\n`;
}

module.exports = { apiEntries, apiReport, REPORT };

if (require.main === module) {
  const text = apiReport();
  if (process.argv.includes("--update")) {
    fs.mkdirSync(path.dirname(REPORT), { recursive: true });
    const tmp = `${REPORT}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, REPORT);
    console.log(`wrote ${path.relative(process.cwd(), REPORT)}`);
  } else {
    process.stdout.write(text);
  }
}
