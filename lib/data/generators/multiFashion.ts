/**
 * MultiFashion, the two-item variant of Fashion-MNIST used by Sener & Koltun, "Multi-Task Learning
 * as Multi-Objective Optimization", NeurIPS 2018 (following MultiMNIST, Sabour et al. 2017):
 *
 *   canvas C = 0 (36 × 36);  C[0:28, 0:28] ← max(C, left item);  C[6:34, 6:34] ← max(C, right item)
 *   x = resize_bilinear(C, 28 × 28);   tasks: class of the left item, class of the right item.
 *
 * Readings where the recipe is vague: the two items are drawn independently and uniformly from the
 * given image set (they may share a class, never the same image), and the resize is bilinear with
 * half-pixel centres. Pixels are scaled to [0, 1].
 */
import { check, checkKnownOptions, checkPositiveInteger } from "../../errors";
import { Rng } from "../../random";
import { classification } from "../../tasks/classification";
import { Task } from "../../tasks/task";
import { MultiTaskData } from "../dataset";
import { fashionMnist, FashionMnistOptions, ImageSet } from "../datasets/fashionMnist";
import { pasteMax, resizeBilinear } from "./imageOps";

/** Options of {@link multiFashion}. */
export interface MultiFashionOptions {
  rows: number;
  seed?: number;
  /** The items to combine (default: fashionMnist({ split, source })). */
  images?: ImageSet;
  split?: FashionMnistOptions["split"];
  source?: FashionMnistOptions["source"];
}

/** What {@link multiFashion} returns: the dataset and its two classification tasks (left and right item). */
export interface MultiFashion {
  /** 28·28 = 784 features per row; targets "left" and "right" (class indices). */
  data: MultiTaskData;
  tasks: Task[];
  /** Which images of the set were combined, per row. */
  leftIndex: Int32Array;
  rightIndex: Int32Array;
}

export const MULTI_FASHION_CANVAS = 36;
export const MULTI_FASHION_OFFSET = 6;

/**
 * MultiFashion (Sener & Koltun, NeurIPS 2018): two overlapping Fashion-MNIST items per image; one task
 * classifies the left one, the other the right one.
 */
export function multiFashion(options: MultiFashionOptions): MultiFashion {
  const where = "multiFashion";
  checkKnownOptions(where, options, ["rows", "seed", "images", "split", "source"]);
  check(options !== undefined, where, () => "expected options { rows }.");
  checkPositiveInteger(where, "rows", options.rows);
  const set = options.images ?? fashionMnist({ split: options.split, source: options.source });
  check(set.height === 28 && set.width === 28, where, () => `items must be 28×28 images, got ${set.height}×${set.width}.`);
  check(set.count >= 2, where, () => `the image set has ${set.count} images; two different items are needed per row.`);
  const { rows } = options;
  const rng = new Rng(options.seed ?? 0);
  const size = 28 * 28;
  const C = MULTI_FASHION_CANVAS;
  const features = new Float32Array(rows * size);
  const left = new Int32Array(rows);
  const right = new Int32Array(rows);
  const leftIndex = new Int32Array(rows);
  const rightIndex = new Int32Array(rows);
  const canvas = new Float32Array(C * C);
  for (let r = 0; r < rows; r++) {
    const a = rng.int(set.count);
    let b = rng.int(set.count - 1);
    if (b >= a) b++;
    canvas.fill(0);
    pasteMax(canvas, C, set.images.subarray(a * size, a * size + size), 28, 28, 0, 0, 1 / 255);
    pasteMax(canvas, C, set.images.subarray(b * size, b * size + size), 28, 28, MULTI_FASHION_OFFSET, MULTI_FASHION_OFFSET, 1 / 255);
    resizeBilinear(canvas, C, C, 28, 28, features.subarray(r * size, r * size + size));
    left[r] = set.labels[a];
    right[r] = set.labels[b];
    leftIndex[r] = a;
    rightIndex[r] = b;
  }
  const data: MultiTaskData = {
    rows,
    features,
    featureCount: size,
    featureNames: Array.from({ length: size }, (_, k) => `p${Math.floor(k / 28)}_${k % 28}`),
    targets: { left: { values: left, width: 1 }, right: { values: right, width: 1 } },
  };
  const tasks = [classification("left", { classes: set.classNames }), classification("right", { classes: set.classNames })];
  return { data, tasks, leftIndex, rightIndex };
}
