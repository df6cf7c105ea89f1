import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";

eachBackend(() => {
  describe("task losses", () => {
    it("classification is softmax cross-entropy, with PyTorch's class-weight normalisation", () => {
      const task = mtl.tasks.classification("c", { classes: 3 });
      const logits = tf.tensor2d([
        [1, 2, 3],
        [0, 0, 0],
      ]);
      const y = tf.tensor1d([2, 0], "int32");
      const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
      const expected = (lse - 3 + Math.log(3)) / 2;
      expect(task.loss(logits, y).dataSync()[0]).toBeCloseTo(expected, 5);
      const weighted = mtl.tasks.classification("c", { classes: 3, classWeights: [1, 1, 3] });
      expect(weighted.loss(logits, y).dataSync()[0]).toBeCloseTo((3 * (lse - 3) + Math.log(3)) / 4, 5);
      tf.dispose([logits, y]);
    });

    it("binary and multi-label use the stable sigmoid cross-entropy", () => {
      const task = mtl.tasks.binary("b");
      const z = tf.tensor2d([[2], [-1]]);
      const y = tf.tensor2d([[1], [0]]);
      const bce = (zz: number, yy: number) => -(yy * Math.log(1 / (1 + Math.exp(-zz))) + (1 - yy) * Math.log(1 - 1 / (1 + Math.exp(-zz))));
      expect(task.loss(z, y).dataSync()[0]).toBeCloseTo((bce(2, 1) + bce(-1, 0)) / 2, 5);
      // Extreme logits stay finite.
      const big = tf.tensor2d([[1000], [-1000]]);
      expect(Number.isFinite(task.loss(big, y).dataSync()[0])).toBe(true);
      tf.dispose([z, y, big]);
    });

    it("regression: MSE, MAE and Huber", () => {
      const pred = tf.tensor2d([[0], [3]]);
      const y = tf.tensor2d([[0.5], [0]]);
      expect(mtl.tasks.regression("r").loss(pred, y).dataSync()[0]).toBeCloseTo((0.25 + 9) / 2, 5);
      expect(mtl.tasks.regression("r", { loss: "mae" }).loss(pred, y).dataSync()[0]).toBeCloseTo(1.75, 5);
      // Huber δ=1: ½·0.25 and 1·(3 − ½)
      expect(mtl.tasks.regression("r", { loss: "huber" }).loss(pred, y).dataSync()[0]).toBeCloseTo((0.125 + 2.5) / 2, 5);
      tf.dispose([pred, y]);
    });
  });
});

describe("task options", () => {
  it("refuse bad options with the task and option named", () => {
    expect(() => mtl.tasks.classification("c", { classes: 1 })).toThrow(/classification\('c'\).*at least 2 classes/);
    expect(() => mtl.tasks.classification("c", { classes: 3, clases: 2 } as never)).toThrow(/unknown option 'clases'/);
    expect(() => mtl.tasks.regression("r", { loss: "l3" as never })).toThrow(/regression\('r'\).*unknown loss 'l3'/);
    expect(() => mtl.tasks.regression("")).toThrow(/task name/);
    expect(() => mtl.tasks.classification("c", { classes: 2, classWeights: [1] })).toThrow(/classWeights/);
  });

  it("validate targets naming the row and column", () => {
    const task = mtl.tasks.classification("species", { classes: 3 });
    expect(() => task.validateTargets({ values: Int32Array.from([0, 3]), width: 1 })).toThrow(
      /label 3 at row 1 of column 'species' is outside the class range \[0, 2\]/,
    );
    expect(() => mtl.tasks.binary("b").validateTargets({ values: Float32Array.from([0, 0.5]), width: 1 })).toThrow(/row 1.*0 or 1/);
    expect(() => mtl.tasks.regression("mass").validateTargets({ values: Float32Array.from([1, NaN]), width: 1 })).toThrow(
      /'mass'.*NaN.*row 1/,
    );
  });
});
