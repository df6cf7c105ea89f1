/**
 * Just enough of Source Map v3 to point runtime errors at a cell's TypeScript
 * lines: decode "mappings", compose two maps (CommonJS -> ES module -> TS), look up.
 */

/** One mapping segment: generated column -> original (line, column), all 0-based. */
export interface Segment {
  col: number;
  srcLine: number;
  srcCol: number;
}
/** Segments per generated line, sorted by column. */
export type LineMap = Segment[][];

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

function decodeVlq(s: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of s) {
    const digit = B64_INDEX.get(ch);
    if (digit === undefined) throw new Error(`bad base64 VLQ digit "${ch}"`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

/** Decode the "mappings" string of a map whose sources are one file. */
export function decodeMappings(mappings: string): LineMap {
  const lines: LineMap = [];
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of mappings.split(";")) {
    const segs: Segment[] = [];
    let col = 0;
    if (lineText) {
      for (const segText of lineText.split(",")) {
        const f = decodeVlq(segText);
        col += f[0];
        if (f.length >= 4) {
          srcLine += f[2];
          srcCol += f[3];
          segs.push({ col, srcLine, srcCol });
        }
      }
    }
    segs.sort((a, b) => a.col - b.col);
    lines.push(segs);
  }
  return lines;
}

/** Original position of a generated (line, col), 0-based; null when unmapped. */
export function lookup(map: LineMap, line: number, col: number): { line: number; col: number } | null {
  const segs = map[line];
  if (!segs || segs.length === 0) return null;
  let best = segs[0];
  for (const s of segs) {
    if (s.col <= col) best = s;
    else break;
  }
  return { line: best.srcLine, col: best.col <= col ? best.srcCol + (col - best.col) : best.srcCol };
}

/** Map through `outer` (generated -> intermediate) then `inner` (intermediate -> original). */
export function compose(outer: LineMap, inner: LineMap): LineMap {
  return outer.map((segs) =>
    segs.flatMap((s) => {
      const p = lookup(inner, s.srcLine, s.srcCol);
      return p ? [{ col: s.col, srcLine: p.line, srcCol: p.col }] : [];
    }),
  );
}

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/** Split JavaScript that ends with an inline source map into code and decoded map. */
export function splitInlineMap(js: string): { code: string; map: LineMap | null } {
  const m = INLINE_MAP.exec(js);
  if (!m) return { code: js, map: null };
  const json = JSON.parse(Buffer.from(m[1], "base64").toString("utf8")) as { mappings: string };
  return { code: js.slice(0, m.index) + "\n", map: decodeMappings(json.mappings) };
}
