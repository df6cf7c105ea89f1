/**
 * Fashion-MNIST (Xiao, Rasul & Vollgraf, Zalando Research, 2017; MIT license): 28×28 grey-scale
 * images of 10 clothing classes, 60000 for training and 10000 for testing, 6000 / 1000 per class.
 *
 * Where the data comes from (nothing is downloaded):
 *   - source "subset" (default): the small subset committed in this repository,
 *     data/fashion-mnist-subset/ — the first 400 training images of each class (4000) and the first
 *     100 test images of each class (1000), in file order, as gzipped IDX files;
 *   - source "full": the standard four IDX files (gzipped or not) from the `dir` option when given
 *     (and only there), else the first of $MTLKIT_DATA/fashion-mnist, $MTLKIT_DATA and Debian's
 *     dataset-fashion-mnist package folder (/usr/share/datasets/fashion-mnist) that holds them.
 * Tasks it offers: 10-class classification; with the generators, MultiFashion (two items, two
 * labels) and localisation (an item on a larger canvas: class + bounding box).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { check, checkKnownOptions, MtlError } from "../../errors";
import { readIdx, writeIdx } from "../idx";
import { packageRoot } from "./packageRoot";

/** Fashion-MNIST's ten class names, by label. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** A set of grey-scale images with one label each. */
export interface ImageSet {
  /** count × height × width bytes (0 = background, 255 = ink), image by image, row by row. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
  classNames: string[];
  /** The folder the files were read from. */
  source: string;
}

/**
 * Options of {@link fashionMnist}: the split, and the committed subset or the full set (from Debian's
 * dataset-fashion-mnist, `$MTLKIT_DATA` or `dir`).
 */
export interface FashionMnistOptions {
  split?: "train" | "test";
  /** "subset" (committed in the repo, default) or "full" (the standard files). */
  source?: "subset" | "full";
  /** Folder holding the four IDX files (source "full"). */
  dir?: string;
  /** Keep only the first `limit` images. */
  limit?: number;
}

const FILES = {
  train: ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
  test: ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
} as const;

/** The committed subset's folder. */
export function fashionMnistSubsetDir(): string {
  return join(packageRoot(), "data", "fashion-mnist-subset");
}

/** Finds `name` or `name.gz` in `dir`. */
function findFile(dir: string, name: string): string | undefined {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(candidate)) return candidate;
  return undefined;
}

/** The folders searched for the full set, in order: `dir` alone when given. */
export function fashionMnistSearchPath(dir?: string): string[] {
  if (dir) return [dir];
  const out: string[] = [];
  const env = process.env.MTLKIT_DATA;
  if (env) out.push(join(env, "fashion-mnist"), env);
  out.push(DEBIAN_FASHION_MNIST_DIR);
  return out;
}

/** The folder holding the full Fashion-MNIST files, or undefined when none is found. */
export function findFashionMnist(dir?: string): string | undefined {
  return fashionMnistSearchPath(dir).find((d) => FILES.train.every((f) => findFile(d, f)) && FILES.test.every((f) => findFile(d, f)));
}

/**
 * Fashion-MNIST's 28×28 grey-scale images and labels: the committed subset (400 training and 100 test images per
 * class) by default, the full 60000/10000 with `source: "full"` (never downloaded: an MtlError says where it
 * looked).
 */
export function fashionMnist(options: FashionMnistOptions = {}): ImageSet {
  const where = "fashionMnist";
  checkKnownOptions(where, options, ["split", "source", "dir", "limit"]);
  const split = options.split ?? "train";
  check(split === "train" || split === "test", where, () => `option 'split' must be "train" or "test", got ${JSON.stringify(split)}.`);
  const source = options.source ?? (options.dir ? "full" : "subset");
  check(
    source === "subset" || source === "full",
    where,
    () => `option 'source' must be "subset" or "full", got ${JSON.stringify(source)}.`,
  );
  if (options.limit !== undefined) {
    check(
      Number.isInteger(options.limit) && options.limit > 0,
      where,
      () => `option 'limit' must be a positive integer, got ${options.limit}.`,
    );
  }
  let folder: string;
  if (source === "subset") {
    folder = fashionMnistSubsetDir();
    check(
      existsSync(folder),
      where,
      () => `the committed subset is missing: looked in ${folder}. Restore data/fashion-mnist-subset/ from the repository.`,
    );
  } else {
    const found = findFashionMnist(options.dir);
    if (!found) {
      throw new MtlError(
        where,
        `the full Fashion-MNIST files (${[...FILES.train, ...FILES.test].join(", ")}, optionally .gz) were not found; looked in: ` +
          `${fashionMnistSearchPath(options.dir).join(", ")}. Provide them with the 'dir' option, set MTLKIT_DATA to their folder, ` +
          `or install Debian's package (apt-get install dataset-fashion-mnist); or use source: "subset".`,
      );
    }
    folder = found;
  }
  const [imageName, labelName] = FILES[split];
  const imageFile = findFile(folder, imageName);
  const labelFile = findFile(folder, labelName);
  check(imageFile && labelFile, where, () => `${folder} lacks ${!imageFile ? imageName : labelName} (or its .gz).`);
  const images = readIdx(imageFile, 3);
  const labels = readIdx(labelFile, 1);
  const [count, height, width] = images.shape;
  check(
    labels.shape[0] === count,
    where,
    () => `${imageFile} has ${count} images but ${labelFile} has ${labels.shape[0]} labels; they must match.`,
  );
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i] > 9)
      throw new MtlError(where, `${labelFile} has label ${labels.data[i]} at index ${i}; Fashion-MNIST labels are 0..9.`);
  }
  const n = Math.min(count, options.limit ?? count);
  return {
    images: images.data.subarray(0, n * height * width),
    labels: labels.data.subarray(0, n),
    count: n,
    height,
    width,
    classNames: [...FASHION_MNIST_CLASSES],
    source: folder,
  };
}

/** Pixels scaled to [0, 1] as a flat Float32Array (count × height·width). */
export function imagesToFloat(set: ImageSet): Float32Array {
  const out = new Float32Array(set.images.length);
  for (let i = 0; i < out.length; i++) out[i] = set.images[i] / 255;
  return out;
}

/** The first `perClass` images of each class, in file order. */
export function firstPerClass(set: ImageSet, perClass: number): ImageSet {
  const size = set.height * set.width;
  const taken = new Array<number>(set.classNames.length).fill(0);
  const keep: number[] = [];
  for (let i = 0; i < set.count; i++) {
    if (taken[set.labels[i]] < perClass) {
      taken[set.labels[i]]++;
      keep.push(i);
    }
  }
  const images = new Uint8Array(keep.length * size);
  keep.forEach((i, j) => images.set(set.images.subarray(i * size, i * size + size), j * size));
  return { ...set, images, labels: Uint8Array.from(keep, (i) => set.labels[i]), count: keep.length };
}

/**
 * Writes the committed subset (gzipped IDX) from the full set; how data/fashion-mnist-subset/ was
 * made: `node -e 'require("./dist/lib/data/datasets/fashionMnist").writeFashionMnistSubset()'`.
 */
export function writeFashionMnistSubset(options: { from?: string; to?: string; trainPerClass?: number; testPerClass?: number } = {}): void {
  const to = options.to ?? fashionMnistSubsetDir();
  const trainPerClass = options.trainPerClass ?? 400;
  const testPerClass = options.testPerClass ?? 100;
  for (const split of ["train", "test"] as const) {
    const full = fashionMnist({ split, source: "full", dir: options.from });
    const part = firstPerClass(full, split === "train" ? trainPerClass : testPerClass);
    const [imageName, labelName] = FILES[split];
    writeIdx(join(to, `${imageName}.gz`), { shape: [part.count, part.height, part.width], data: part.images });
    writeIdx(join(to, `${labelName}.gz`), { shape: [part.count], data: part.labels });
  }
}
