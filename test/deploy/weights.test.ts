/**
 * getWeights / setWeights by name: round trips, shape checks that name the variable, nothing
 * assigned when one entry fails, PyTorch's layouts (nn.Linear's [out, in], nn.Conv2d's
 * [out, in, kh, kw], nn.Conv1d's [out, in, k]) checked against the layers' definitions, and a square
 * layer that is refused until its layout is said.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const tf = mtl.tf;
beforeAll(async () => {
  await tf.setBackend("cpu");
});

const tasks = () => [mtl.tasks.regression("a"), mtl.tasks.binary("b")];
const seq = (n: number, scale = 0.1) => Array.from({ length: n }, (_, i) => Math.sin(i + 1) * scale);

describe("getWeights and setWeights", () => {
  it("round-trip every variable and move predictions with them", async () => {
    const src = mtl.mmoe({ inputSize: 3, experts: 2, expertLayers: [4], tasks: tasks(), seed: 1 });
    const dst = mtl.mmoe({ inputSize: 3, experts: 2, expertLayers: [4], tasks: tasks(), seed: 2 });
    const rows = [
      [0.1, -0.4, 2],
      [1, 1, 1],
    ];
    expect(await mtl.deploy.predict(dst, rows)).not.toEqual(await mtl.deploy.predict(src, rows));
    const before = tf.memory().numTensors;
    dst.setWeights(await src.getWeights(), { layout: "tfjs" });
    expect(tf.memory().numTensors).toBe(before);
    expect(await mtl.deploy.predict(dst, rows)).toEqual(await mtl.deploy.predict(src, rows));
    src.dispose();
    dst.dispose();
  });

  it("refuse an unknown name or a wrong shape, naming the variable, and assign nothing then", async () => {
    const m = mtl.hardSharing({ inputSize: 3, trunk: [5], tasks: tasks(), seed: 1 });
    const original = await m.getWeights();
    const good = { shape: [5], values: new Float32Array(5).fill(7) };
    expect(() => m.setWeights({ "trunk.0.bias": good, "trunk.7.kernel": [[1]] })).toThrow(
      /Error in setWeights: the model has no variable 'trunk\.7\.kernel'\. Its variables: trunk\.0\.kernel, trunk\.0\.bias/,
    );
    expect(() => m.setWeights({ "trunk.0.bias": good, "head.a.0.kernel": [[1, 2]] })).toThrow(
      /variable 'head\.a\.0\.kernel' has shape \[5,1\], got \[1,2\]/,
    );
    expect(() => m.setWeights({ "trunk.0.bias": { shape: [5], values: [1, 2] } })).toThrow(
      /variable 'trunk\.0\.bias': shape \[5\] needs 5 values, got 2/,
    );
    expect(() => m.setWeights({ "trunk.0.bias": [[1, 2], [3]] as number[][] })).toThrow(
      /variable 'trunk\.0\.bias': the nested arrays are not a regular tensor \(\[1\] has 1 entries where 2 were expected\)/,
    );
    expect(() => m.setWeights({ "trunk.0.bias": [1, 2, NaN, 4, 5] })).toThrow(
      /variable 'trunk\.0\.bias': \[2\] is NaN; weights must be finite/,
    );
    expect(() => m.setWeights({}, { layout: "keras" as "tfjs" })).toThrow(/option 'layout' must be "tfjs" or "torch"/);
    expect(await m.getWeights()).toEqual(original); // the good entry was not assigned either
    m.dispose();
  });

  it("a non-square kernel in PyTorch's layout without the option is refused with a hint", () => {
    const m = mtl.hardSharing({ inputSize: 3, trunk: [5], tasks: tasks(), seed: 1 });
    expect(() => m.setWeights({ "trunk.0.kernel": { shape: [5, 3], values: seq(15) } })).toThrow(
      /has shape \[3,5\], got \[5,3\]\. That is PyTorch's layout; pass \{ layout: "torch" \}/,
    );
    m.dispose();
  });
});

describe("layout: torch", () => {
  it("takes nn.Linear's weight [out, in]: the layer computes x·Wᵀ + b as PyTorch does", async () => {
    const m = mtl.hardSharing({ inputSize: 3, trunk: [2], tasks: [mtl.tasks.regression("y")], activation: "relu", seed: 1 });
    const W1 = [
      [0.5, -1, 2],
      [1, 0.25, -0.5],
    ]; // torch: [out=2, in=3]
    const b1 = [0.1, -0.2];
    const W2 = [[1.5, -2]]; // head: [out=1, in=2]
    const b2 = [0.3];
    m.setWeights({ "trunk.0.kernel": W1, "trunk.0.bias": b1, "head.y.0.kernel": W2, "head.y.0.bias": b2 }, { layout: "torch" });
    const x = [0.2, -1, 0.7];
    const h = W1.map((row, o) => Math.max(0, row.reduce((s, w, i) => s + w * x[i], 0) + b1[o]));
    const y = W2[0].reduce((s, w, i) => s + w * h[i], 0) + b2[0];
    const p = await mtl.deploy.predict(m, [x]);
    expect(p.y.outputs[0][0]).toBeCloseTo(y, 5);
    // getWeights in torch layout gives back exactly what was set.
    const back = await m.getWeights({ layout: "torch" });
    expect(back["trunk.0.kernel"].shape).toEqual([2, 3]);
    expect(Array.from(back["trunk.0.kernel"].values)).toEqual(W1.flat().map(Math.fround));
    m.dispose();
  });

  it("a square kernel is refused without a layout; 'tfjs' takes it as given, 'torch' transposes it", async () => {
    const m = mtl.hardSharing({ inputSize: 2, trunk: [2], tasks: [mtl.tasks.regression("y")], activation: "linear", seed: 1 });
    const W = [
      [1, 2],
      [3, 4],
    ];
    expect(() => m.setWeights({ "trunk.0.kernel": W })).toThrow(
      /variable 'trunk\.0\.kernel' has shape \[2,2\] in both tfjs's layout and PyTorch's, so its layout cannot be checked; pass \{ layout: "tfjs" \} or \{ layout: "torch" \}/,
    );
    m.setWeights({ "trunk.0.kernel": W }, { layout: "tfjs" });
    expect(Array.from((await m.getWeights())["trunk.0.kernel"].values)).toEqual([1, 2, 3, 4]);
    m.setWeights({ "trunk.0.kernel": W }, { layout: "torch" });
    expect(Array.from((await m.getWeights())["trunk.0.kernel"].values)).toEqual([1, 3, 2, 4]);
    m.dispose();
  });

  it("takes nn.Conv2d's [out, in, kh, kw] filters for the CNN encoder (checked against a direct convolution)", async () => {
    const enc = mtl.layers.cnnEncoder({ height: 4, width: 4, channels: 2, filters: [3], dense: [2], seed: 1 });
    const m = mtl.hardSharing({ inputSize: 32, trunk: enc, tasks: [mtl.tasks.regression("y")], seed: 1 });
    const torchFilter = Array.from({ length: 3 }, (_, o) =>
      Array.from({ length: 2 }, (_, i) =>
        Array.from({ length: 3 }, (_, r) => Array.from({ length: 3 }, (_, c) => Math.cos(o * 7 + i * 5 + r * 3 + c))),
      ),
    );
    const name = "trunk.cnn.conv0.filter"; // the encoder's own names, under the trunk's
    const weights = await m.getWeights();
    expect(weights[name].shape).toEqual([3, 3, 2, 3]);
    expect(() => m.setWeights({ [name]: torchFilter })).toThrow(
      /variable 'trunk\.cnn\.conv0\.filter' has shape \[3,3,2,3\], got \[3,2,3,3\]\. That is PyTorch's layout/,
    );
    m.setWeights({ [name]: torchFilter, "trunk.cnn.conv0.bias": [0, 0, 0] }, { layout: "torch" });
    const conv = enc.convs[0];
    const x = tf.tensor4d(seq(32, 1), [1, 4, 4, 2]);
    const got = conv.apply(x);
    // Direct cross-correlation with PyTorch's indexing, then the layer's ReLU:
    // y[r,c,o] = relu(Σ_i Σ_dr Σ_dc w[o][i][dr][dc] · x[r+dr-1, c+dc-1, i])
    const xs = x.arraySync()[0];
    let maxErr = 0;
    const ys = got.arraySync()[0];
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++)
        for (let o = 0; o < 3; o++) {
          let s = 0;
          for (let i = 0; i < 2; i++)
            for (let dr = 0; dr < 3; dr++)
              for (let dc = 0; dc < 3; dc++) {
                const rr = r + dr - 1,
                  cc = c + dc - 1;
                if (rr >= 0 && rr < 4 && cc >= 0 && cc < 4) s += torchFilter[o][i][dr][dc] * xs[rr][cc][i];
              }
          maxErr = Math.max(maxErr, Math.abs(Math.max(0, s) - ys[r][c][o]));
        }
    expect(maxErr).toBeLessThan(1e-5);
    tf.dispose([x, got]);
    m.dispose();
  });

  it("takes nn.Conv1d's [out, in, k] for the text encoder's convolutions", async () => {
    const enc = mtl.layers.textEncoder({
      sequenceLength: 5,
      vocabularySize: 7,
      embeddingSize: 3,
      channels: [2],
      kernelSize: 3,
      seed: 1,
      name: "text",
    });
    const m = mtl.hardSharing({ inputSize: 5, trunk: enc, tasks: [mtl.tasks.regression("y")], seed: 1 });
    const w = Array.from({ length: 2 }, (_, o) =>
      Array.from({ length: 3 }, (_, i) => Array.from({ length: 3 }, (_, k) => o - i + 0.5 * k)),
    );
    m.setWeights({ "trunk.text.conv0.filter": w }, { layout: "torch" });
    const filter = enc.filters[0].arraySync(); // [1, k, in, out]
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < 3; i++) for (let k = 0; k < 3; k++) expect(filter[0][k][i][o]).toBeCloseTo(w[o][i][k], 6);
    m.dispose();
  });
});
