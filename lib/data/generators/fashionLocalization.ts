/**
 * Classification with localisation on Fashion-MNIST: each 28×28 item is placed at a uniformly random
 * position on a larger empty canvas (S × S, default 56), and two tasks read the same image:
 *
 *   item: its class (10-way cross-entropy)
 *   box:  its tight bounding box b = [x0, y0, x1, y1] / S (the extent of the pixels > 0, in
 *         canvas coordinates, normalised to [0, 1]; regression, scored by IoU).
 *
 * The box is measured from the ink, not the 28×28 frame, so it is the object's true extent.
 */
import { check, checkKnownOptions, checkPositiveInteger } from "../../errors";
import { Rng } from "../../random";
import { boundingBox } from "../../tasks/boundingBox";
import { classification } from "../../tasks/classification";
import { Task } from "../../tasks/task";
import { MultiTaskData } from "../dataset";
import { fashionMnist, FashionMnistOptions, ImageSet } from "../datasets/fashionMnist";
import { inkBox, pasteMax } from "./imageOps";

/** Options of {@link fashionLocalization}. */
export interface FashionLocalizationOptions {
  rows: number;
  /** Canvas side S (default 56; at least 28). */
  canvas?: number;
  seed?: number;
  images?: ImageSet;
  split?: FashionMnistOptions["split"];
  source?: FashionMnistOptions["source"];
}

/** What {@link fashionLocalization} returns: the dataset and its two tasks (class and bounding box). */
export interface FashionLocalization {
  /** S·S features per row; targets "item" (class) and "box" (4 numbers in [0, 1]). */
  data: MultiTaskData;
  tasks: Task[];
  canvas: number;
  /** Index of the item in the image set, per row. */
  itemIndex: Int32Array;
}

/**
 * Classification with localisation: each Fashion-MNIST item pasted at a random place on a larger canvas; the
 * tasks are its class and its bounding box.
 */
export function fashionLocalization(options: FashionLocalizationOptions): FashionLocalization {
  const where = "fashionLocalization";
  checkKnownOptions(where, options, ["rows", "canvas", "seed", "images", "split", "source"]);
  check(options !== undefined, where, () => "expected options { rows }.");
  checkPositiveInteger(where, "rows", options.rows);
  const S = options.canvas ?? 56;
  check(Number.isInteger(S) && S >= 28, where, () => `option 'canvas' must be an integer ≥ 28 (the item's size), got ${S}.`);
  const set = options.images ?? fashionMnist({ split: options.split, source: options.source });
  check(set.height === 28 && set.width === 28, where, () => `items must be 28×28 images, got ${set.height}×${set.width}.`);
  const rng = new Rng(options.seed ?? 0);
  const size = 28 * 28;
  const { rows } = options;
  const features = new Float32Array(rows * S * S);
  const labels = new Int32Array(rows);
  const boxes = new Float32Array(rows * 4);
  const itemIndex = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let a = rng.int(set.count);
    let box = inkBox(set.images.subarray(a * size, a * size + size), 28, 28);
    for (let tries = 0; !box && tries < set.count; tries++) {
      a = (a + 1) % set.count; // a blank item has no box: take the next one
      box = inkBox(set.images.subarray(a * size, a * size + size), 28, 28);
    }
    check(box, where, () => "every image of the set is blank; there is nothing to localise.");
    const top = rng.int(S - 27);
    const left = rng.int(S - 27);
    pasteMax(features.subarray(r * S * S, (r + 1) * S * S), S, set.images.subarray(a * size, a * size + size), 28, 28, top, left, 1 / 255);
    labels[r] = set.labels[a];
    itemIndex[r] = a;
    boxes.set([(left + box[0]) / S, (top + box[1]) / S, (left + box[2]) / S, (top + box[3]) / S], r * 4);
  }
  const data: MultiTaskData = {
    rows,
    features,
    featureCount: S * S,
    featureNames: Array.from({ length: S * S }, (_, k) => `p${Math.floor(k / S)}_${k % S}`),
    targets: { item: { values: labels, width: 1 }, box: { values: boxes, width: 4 } },
  };
  return { data, tasks: [classification("item", { classes: set.classNames }), boundingBox("box")], canvas: S, itemIndex };
}
