/**
 * KaTeX's stylesheet with its fonts inside, for an exported page that must render math
 * offline. The woff2 fonts (every browser that runs plotly.js 3 reads woff2) become data: URLs
 * in the @font-face rules, so the page stays one self-contained file like its inlined
 * plotly.js: about 0.4 MB, added only to pages that hold math, against plotly.js's 4.7 MB.
 */
import * as fs from "fs";
import * as path from "path";

let css: string | null = null;

/** katex.min.css with each @font-face `src` reduced to its woff2 font as a data: URL. */
export function katexCss(): string {
  if (css !== null) return css;
  const dist = path.dirname(require.resolve("katex/dist/katex.min.css"));
  const source = fs.readFileSync(path.join(dist, "katex.min.css"), "utf8");
  css = source.replace(/src:url\((fonts\/[^)]+\.woff2)\) format\("woff2"\)[^;}]*/g, (_m, file: string) => {
    const font = fs.readFileSync(path.join(dist, file)).toString("base64");
    return `src:url(data:font/woff2;base64,${font}) format("woff2")`;
  });
  return css;
}
