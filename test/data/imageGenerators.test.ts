import { describe, expect, it } from "vitest";
import { fashionMnist, ImageSet } from "../../lib/data/datasets/fashionMnist";
import { fashionLocalization } from "../../lib/data/generators/fashionLocalization";
import { inkBox, pasteMax, resizeBilinear } from "../../lib/data/generators/imageOps";
import { multiFashion } from "../../lib/data/generators/multiFashion";
import { boundingBox, iou } from "../../lib/tasks/boundingBox";

/** Two synthetic 28×28 "items": a solid square of 255 in a known place, labels 3 and 7. */
function toySet(): ImageSet {
  const images = new Uint8Array(2 * 784);
  for (let i = 2; i < 10; i++) for (let j = 4; j < 12; j++) images[i * 28 + j] = 255; // item 0
  for (let i = 20; i < 28; i++) for (let j = 20; j < 28; j++) images[784 + i * 28 + j] = 128; // item 1
  return {
    images,
    labels: Uint8Array.of(3, 7),
    count: 2,
    height: 28,
    width: 28,
    classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
    source: "toy",
  };
}

describe("image operations", () => {
  it("bilinear resize with half-pixel centres: identity at equal size, means preserved on a 2:1 downscale", () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i);
    expect(Array.from(resizeBilinear(src, 4, 4, 4, 4))).toEqual(Array.from(src));
    // 4×4 → 2×2 samples at (0.5, 0.5)-centred points: the mean of each 2×2 block.
    expect(Array.from(resizeBilinear(src, 4, 4, 2, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it("pasteMax combines by pixel-wise maximum and inkBox finds the tight extent", () => {
    const canvas = new Float32Array(25);
    pasteMax(canvas, 5, [0, 0.5, 0.2, 0], 2, 2, 1, 1);
    pasteMax(canvas, 5, [0.3, 0.1, 0, 0.9], 2, 2, 1, 2);
    expect(canvas[1 * 5 + 2]).toBe(0.5); // max(0.5, 0.3)
    expect(canvas[2 * 5 + 3]).toBeCloseTo(0.9);
    expect(inkBox(canvas, 5, 5)).toEqual([1, 1, 4, 3]);
    expect(inkBox(new Float32Array(4), 2, 2)).toBeUndefined();
  });
});

describe("multiFashion", () => {
  it("follows the recipe: left item at [0:28, 0:28], right at [6:34, 6:34] of 36×36, max, resized to 28×28", () => {
    const set = toySet();
    const g = multiFashion({ rows: 4, images: set, seed: 1 });
    expect(g.data.featureCount).toBe(784);
    for (let r = 0; r < 4; r++) {
      const a = g.leftIndex[r];
      const b = g.rightIndex[r];
      expect(a).not.toBe(b);
      expect(g.data.targets.left.values[r]).toBe(set.labels[a]);
      expect(g.data.targets.right.values[r]).toBe(set.labels[b]);
      // Rebuild the canvas by hand and compare with the features.
      const canvas = new Float32Array(36 * 36);
      for (let i = 0; i < 28; i++)
        for (let j = 0; j < 28; j++) {
          canvas[i * 36 + j] = Math.max(canvas[i * 36 + j], set.images[a * 784 + i * 28 + j] / 255);
          canvas[(i + 6) * 36 + j + 6] = Math.max(canvas[(i + 6) * 36 + j + 6], set.images[b * 784 + i * 28 + j] / 255);
        }
      const expected = resizeBilinear(canvas, 36, 36, 28, 28);
      const got = g.data.features.subarray(r * 784, r * 784 + 784);
      for (let k = 0; k < 784; k++) expect(got[k]).toBeCloseTo(expected[k], 6);
    }
    expect(g.tasks.map((t) => t.name)).toEqual(["left", "right"]);
  });

  it("builds from the committed Fashion-MNIST subset, seeded, with both labels spread over 10 classes", () => {
    const images = fashionMnist({ limit: 1000 });
    const g = multiFashion({ rows: 500, images, seed: 4 });
    const h = multiFashion({ rows: 500, images, seed: 4 });
    expect(Array.from(g.leftIndex)).toEqual(Array.from(h.leftIndex));
    expect(new Set(g.data.targets.left.values).size).toBe(10);
    expect(new Set(g.data.targets.right.values).size).toBe(10);
    expect(g.data.features.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it("refuses sets that cannot make a pair", () => {
    const one = { ...toySet(), count: 1 };
    expect(() => multiFashion({ rows: 2, images: one })).toThrow(/two different items/);
  });
});

describe("fashionLocalization and the bounding-box task", () => {
  it("the box is the ink's extent at the placed position", () => {
    const set = toySet();
    const g = fashionLocalization({ rows: 20, images: set, canvas: 40, seed: 2 });
    const S = 40;
    for (let r = 0; r < 20; r++) {
      const box = Array.from(g.data.targets.box.values.subarray(4 * r, 4 * r + 4), (v) => Math.round(v * S));
      const img = g.data.features.subarray(r * S * S, (r + 1) * S * S);
      expect(box).toEqual(inkBox(img, S, S));
      const side = 8; // both toy items are 8 pixels wide
      expect(box[2] - box[0]).toBe(side);
      expect(g.data.targets.item.values[r]).toBe(set.labels[g.itemIndex[r]]);
    }
    expect(() => fashionLocalization({ rows: 2, images: set, canvas: 20 })).toThrow(/'canvas' must be an integer ≥ 28/);
  });

  it("IoU on boxes worked out by hand", () => {
    expect(iou([0, 0, 2, 2], [1, 1, 3, 3])).toBeCloseTo(1 / 7);
    expect(iou([0, 0, 2, 2], [0, 0, 2, 2])).toBe(1);
    expect(iou([0, 0, 1, 1], [2, 2, 3, 3])).toBe(0);
    expect(iou([2, 2, 0, 0], [0, 0, 2, 2])).toBe(0); // swapped corners: an empty prediction
    const task = boundingBox("box");
    const m = task.metrics([0, 0, 2, 2, 0, 0, 1, 1], [1, 1, 3, 3, 0, 0, 1, 1]);
    expect(m.meanIoU).toBeCloseTo((1 / 7 + 1) / 2);
    expect(m.iou50).toBe(0.5);
    expect(task.primaryMetric).toBe("meanIoU");
    expect(() => task.validateTargets({ values: Float32Array.of(0.5, 0, 0.2, 1), width: 4 })).toThrow(/row 0.*x0 ≤ x1/);
  });
});
