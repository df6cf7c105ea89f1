/**
 * Bounding-box regression: the head predicts b̂ = [x0, y0, x1, y1] (corners, x0 ≤ x1, y0 ≤ y1), the
 * loss is a regression loss on the four numbers (Huber with δ = 1 by default, smooth-L1 of
 * Fast R-CNN, or mse / mae), and the metrics add intersection over union,
 *
 *   IoU(b, b̂) = |b ∩ b̂| / |b ∪ b̂|,  with a predicted box whose corners are swapped scored by its
 *   area clipped at zero (so it counts as empty, never negative),
 *
 * averaged over examples (meanIoU, the primary metric) and the share with IoU ≥ 0.5 (iou50, the
 * PASCAL VOC criterion).
 */
import { MtlError } from "../errors";
import { regression, RegressionLoss } from "./regression";
import { Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Options of {@link boundingBox}. */
export interface BoundingBoxOptions {
  /** The four target columns (default `<name>.x0`, `.y0`, `.x1`, `.y1`). */
  columns?: [string, string, string, string];
  loss?: RegressionLoss;
  delta?: number;
}

/**
 * Intersection over union of boxes [x0, y0, x1, y1] at offsets `ai` of `a` and `bi` of `b`; a box with swapped
 * corners counts as empty.
 */
export function iou(a: ArrayLike<number>, b: ArrayLike<number>, ai = 0, bi = 0): number {
  const area = (x0: number, y0: number, x1: number, y1: number) => Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  const inter = area(
    Math.max(a[ai], b[bi]),
    Math.max(a[ai + 1], b[bi + 1]),
    Math.min(a[ai + 2], b[bi + 2]),
    Math.min(a[ai + 3], b[bi + 3]),
  );
  const union = area(a[ai], a[ai + 1], a[ai + 2], a[ai + 3]) + area(b[bi], b[bi + 1], b[bi + 2], b[bi + 3]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Bounding-box regression of [x0, y0, x1, y1] (Huber loss by default, smooth-L1 of Fast R-CNN), with mean IoU
 * and the share with IoU ≥ 0.5 as metrics.
 */
export function boundingBox(name: string, options: BoundingBoxOptions = {}): Task {
  const columns = options.columns ?? [`${name}.x0`, `${name}.y0`, `${name}.x1`, `${name}.y1`];
  const base = regression(name, { columns, loss: options.loss ?? "huber", delta: options.delta });
  const where = `boundingBox('${name}')`;
  return withTaskSpec("boundingBox", name, options, {
    ...base,
    metricSpecs: [...base.metricSpecs, { name: "meanIoU", higherIsBetter: true }, { name: "iou50", higherIsBetter: true }],
    primaryMetric: "meanIoU",
    validateTargets(target: TargetArray) {
      base.validateTargets(target);
      const v = target.values;
      for (let r = 0; r < v.length / 4; r++) {
        if (v[4 * r] > v[4 * r + 2] || v[4 * r + 1] > v[4 * r + 3]) {
          throw new MtlError(
            where,
            `box at row ${r} is [${Array.from(v.subarray(4 * r, 4 * r + 4))}]; corners must satisfy x0 ≤ x1 and y0 ≤ y1.`,
          );
        }
      }
    },
    metrics(predicted, target) {
      const scores = base.metrics(predicted, target);
      const n = target.length / 4;
      let sum = 0;
      let hits = 0;
      for (let r = 0; r < n; r++) {
        const v = iou(predicted, target, 4 * r, 4 * r);
        sum += v;
        if (v >= 0.5) hits++;
      }
      return { ...scores, meanIoU: n ? sum / n : NaN, iou50: n ? hits / n : NaN };
    },
  });
}
