/**
 * Markdown, LaTeX and code as HTML for the notebook export, rendered at export time with
 * maintained libraries: markdown-it (CommonMark, plus GFM tables and strikethrough), KaTeX
 * through VS Code's markdown-it plugin (`$…$`, `$$…$$`, bare `\begin{…}` blocks, as Jupyter's
 * front ends read them) and highlight.js.
 */
import markdownItKatex from "@vscode/markdown-it-katex";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import typescript from "highlight.js/lib/languages/typescript";
import katex from "katex";
import MarkdownIt from "markdown-it";
import { escapeHtml } from "../display";

for (const [name, lang] of Object.entries({ typescript, javascript, python, bash, json })) hljs.registerLanguage(name, lang);

/** The languages code cells and fenced blocks are highlighted in (others are shown escaped, unhighlighted). */
export const HIGHLIGHTED_LANGUAGES = ["typescript", "javascript", "python", "bash", "json"] as const;

/**
 * Code as highlighted HTML (highlight.js `hljs-*` spans, text escaped). `language` is a
 * notebook's language name or a fence's info string (`ts`, `typescript`, `py`…); an unknown
 * or empty one gives the escaped text.
 */
export function highlightCode(code: string, language: string | undefined): string {
  const lang = language?.trim().split(/\s+/)[0]?.toLowerCase();
  if (!lang || !hljs.getLanguage(lang)) return escapeHtml(code);
  return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
}

const md = new MarkdownIt({
  // Jupyter's Markdown cells may hold raw HTML (<br>, <details>, <img>); the notebook is the
  // user's own document, rendered the way Jupyter renders it.
  html: true,
  highlight: (code, lang) => (lang && hljs.getLanguage(lang) ? highlightCode(code, lang) : ""),
});
md.use(markdownItKatex, { katex, enableBareBlocks: true, enableFencedBlocks: true, throwOnError: false });

/**
 * A Markdown cell (or a `text/markdown` output) as HTML: CommonMark with GFM tables, math
 * through KaTeX, fenced code highlighted. A formula KaTeX cannot parse renders as a
 * `.katex-error` span holding the message, never as raw `$…$` text.
 */
export function markdownToHtml(source: string): string {
  return md.render(source);
}

/**
 * A `text/latex` output as KaTeX HTML. Jupyter front ends read it as math with its own
 * delimiters (`$$…$$`, `$…$`, `\[…\]`, `\(…\)`); without any, the whole text is one display
 * formula (e.g. `\begin{align}…\end{align}`).
 */
export function latexToHtml(source: string): string {
  const s = source.trim();
  const delimited = /^\$\$([\s\S]*)\$\$$/.exec(s) ?? /^\\\[([\s\S]*)\\\]$/.exec(s);
  const inline = delimited ? null : (/^\$([\s\S]*)\$$/.exec(s) ?? /^\\\(([\s\S]*)\\\)$/.exec(s));
  const tex = delimited?.[1] ?? inline?.[1] ?? s;
  return katex.renderToString(tex, { displayMode: !inline, throwOnError: false });
}
