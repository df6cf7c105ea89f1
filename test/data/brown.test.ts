import { describe, expect, it } from "vitest";
import { brownCorpus, brownTagging, universalTag, BROWN_GENRES } from "../../lib/data/datasets/brown";

describe("Brown corpus", () => {
  it("has 500 passages in 15 genres (44 news, 80 learned, 6 science fiction) and about 1.16M tokens", () => {
    const c = brownCorpus();
    expect(c.length).toBe(500);
    const per: Record<string, number> = {};
    for (const p of c) per[p.genre] = (per[p.genre] ?? 0) + 1;
    expect(Object.keys(per).sort()).toEqual([...BROWN_GENRES]);
    expect([per.news, per.learned, per.science_fiction]).toEqual([44, 80, 6]);
    const tokens = c.reduce((s, p) => s + p.sentences.reduce((t, x) => t + x.words.length, 0), 0);
    // NLTK's brown.words() has 1,161,192 tokens.
    expect(tokens).toBe(1161192);
    expect(c[0].sentences[0].words.slice(0, 3)).toEqual(["The", "Fulton", "County"]);
    expect(c[0].sentences[0].tags.slice(0, 3)).toEqual(["at", "np-tl", "nn-tl"]);
  });

  it("maps Brown tags to the universal tagset", () => {
    const cases: Record<string, string> = {
      at: "DET",
      "np-tl": "NOUN",
      "nn-tl-hl": "NOUN",
      nns$: "NOUN",
      vbd: "VERB",
      bedz: "VERB",
      "md*": "VERB",
      "ppss+md": "PRON",
      jjt: "ADJ",
      od: "ADJ",
      ql: "ADV",
      "*": "ADV",
      wrb: "ADV",
      pp$: "DET",
      ppo: "PRON",
      wps: "PRON",
      cd: "NUM",
      in: "ADP",
      cs: "CONJ",
      to: "PRT",
      rp: "PRT",
      "``": ".",
      "--": ".",
      "fw-nn": "X",
      uh: "X",
      ex: "DET",
    };
    for (const [b, u] of Object.entries(cases)) expect([b, universalTag(b)]).toEqual([b, u]);
    // Nearly every corpus token maps to a real tag (X is rare: foreign words, interjections).
    let x = 0,
      n = 0;
    for (const p of brownCorpus().slice(0, 50))
      for (const s of p.sentences)
        for (const t of s.tags) {
          n++;
          if (universalTag(t) === "X") x++;
        }
    expect(x / n).toBeLessThan(0.01);
  });

  it("brownTagging: chunks of T tokens with three label sets, split by passage, vocabulary from train only", () => {
    const d = brownTagging({ length: 16, vocabularySize: 500, nextTokenClasses: 100, chunksPerPassage: 4, seed: 1 });
    expect(d.tasks.map((t) => [t.name, t.kind, t.outputUnits])).toEqual([
      ["genre", "classification", 15],
      ["pos", "sequenceTagging", 16 * 12],
      ["nextToken", "sequenceTagging", 16 * 100],
    ]);
    const all = [...d.passages.train, ...d.passages.validation, ...d.passages.test];
    expect(new Set(all).size).toBe(500);
    expect(d.train.rows).toBe(d.passages.train.length * 4);
    expect(new Set(d.train.targets.genre.values).size).toBe(15);
    expect(new Set(d.test.targets.genre.values).size).toBe(15);
    const f = d.train.features;
    expect(Math.max(...Array.from(f))).toBeLessThan(500);
    // Next token of position t is the token at t + 1 (when it is frequent enough to have a class).
    const next = d.train.targets.nextToken.values;
    let checked = 0;
    for (let t = 0; t < 15; t++) {
      const id = f[t + 1];
      if (id < 99 && id > 1) {
        expect(next[t]).toBe(id);
        checked++;
      } else if (id >= 99 || id === 1) expect(next[t]).toBe(99);
    }
    expect(checked).toBeGreaterThan(3);
    expect(d.vocabulary.slice(0, 4)).toEqual(["<pad>", "<unk>", "the", ","]);
    for (const task of d.tasks) task.validateTargets(d.train.targets[task.name]);
    expect(() => brownTagging({ genres: ["news", "poetry"] })).toThrow(/unknown genre 'poetry'/);
  });
});
