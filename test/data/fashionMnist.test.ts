import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { fashionMnist, fashionMnistSearchPath, findFashionMnist, firstPerClass } from "../../lib/data/datasets/fashionMnist";
import { encodeIdx, readIdx, writeIdx } from "../../lib/data/idx";

function counts(labels: Uint8Array): number[] {
  const c = new Array(10).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

const tmp = mkdtempSync(join(tmpdir(), "mtlkit-idx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("IDX files", () => {
  it("round-trips gzipped and plain files", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 7);
    for (const name of ["a-idx3-ubyte", "a-idx3-ubyte.gz"]) {
      writeIdx(join(tmp, name), { shape: [2, 3, 4], data });
      const back = readIdx(join(tmp, name), 3);
      expect(back.shape).toEqual([2, 3, 4]);
      expect(Array.from(back.data)).toEqual(Array.from(data));
    }
  });

  it("names the file and the expected magic number when the magic is wrong", () => {
    const bytes = encodeIdx({ shape: [3], data: new Uint8Array(3) });
    bytes[2] = 0x0d; // float type
    const file = join(tmp, "bad-magic");
    writeFileSync(file, bytes);
    expect(() => readIdx(file, 1)).toThrow(/bad-magic.*wrong magic number 00 00 0d 01; expected 00 00 08 01/);
  });

  it("reports a truncated file (short read) with the expected and actual sizes", () => {
    const bytes = encodeIdx({ shape: [10, 28, 28], data: new Uint8Array(7840) });
    const file = join(tmp, "short.gz");
    writeFileSync(file, gzipSync(bytes.subarray(0, 5000)));
    expect(() => readIdx(file, 3)).toThrow(
      /short\.gz.*shape \[10, 28, 28\], i\.e\. 7840 values, but 4984 bytes follow.*truncated \(short read\)/,
    );
    const gzCut = join(tmp, "cut.gz");
    writeFileSync(gzCut, gzipSync(bytes).subarray(0, 40));
    expect(() => readIdx(gzCut, 3)).toThrow(/cut\.gz.*does not decompress/);
    const tiny = join(tmp, "tiny");
    writeFileSync(tiny, Uint8Array.of(0, 0));
    expect(() => readIdx(tiny)).toThrow(/tiny.*2 bytes.*4-byte magic number/);
  });

  it("refuses labels where images are expected", () => {
    const file = join(tmp, "labels");
    writeIdx(file, { shape: [4], data: new Uint8Array(4) });
    expect(() => readIdx(file, 3)).toThrow(/labels.*1 dimensions.*expected 3 \(images\)/);
  });
});

describe("Fashion-MNIST", () => {
  it("the committed subset has 400 train / 100 test images per class, 28×28", () => {
    const train = fashionMnist();
    expect([train.count, train.height, train.width]).toEqual([4000, 28, 28]);
    expect(counts(train.labels)).toEqual(new Array(10).fill(400));
    const test = fashionMnist({ split: "test" });
    expect(test.count).toBe(1000);
    expect(counts(test.labels)).toEqual(new Array(10).fill(100));
    expect(train.classNames[9]).toBe("Ankle boot");
    // Real images: mostly background with ink, mean intensity of Fashion-MNIST ≈ 0.29.
    const mean = train.images.reduce((s, v) => s + v, 0) / train.images.length / 255;
    expect(mean).toBeGreaterThan(0.2);
    expect(mean).toBeLessThan(0.4);
  });

  it("a missing folder says where it looked and how to provide the data", () => {
    const absent = join(tmp, "absent");
    expect(() => fashionMnist({ source: "full", dir: absent })).toThrow(
      new RegExp(
        `train-images-idx3-ubyte.*were not found; looked in: ${absent}\\. .*'dir' option, set MTLKIT_DATA.*apt-get install dataset-fashion-mnist`,
      ),
    );
    expect(() => fashionMnist({ split: "valid" as never })).toThrow(/'split' must be "train" or "test"/);
  });

  it("searches $MTLKIT_DATA/fashion-mnist, $MTLKIT_DATA, then Debian's folder", () => {
    const saved = process.env.MTLKIT_DATA;
    process.env.MTLKIT_DATA = "/data";
    try {
      expect(fashionMnistSearchPath()).toEqual(["/data/fashion-mnist", "/data", "/usr/share/datasets/fashion-mnist"]);
      expect(fashionMnistSearchPath("/mine")).toEqual(["/mine"]);
      delete process.env.MTLKIT_DATA;
      expect(fashionMnistSearchPath()).toEqual(["/usr/share/datasets/fashion-mnist"]);
    } finally {
      if (saved === undefined) delete process.env.MTLKIT_DATA;
      else process.env.MTLKIT_DATA = saved;
    }
  });

  it("reads a folder given by dir, including a set built with firstPerClass", () => {
    const dir = join(tmp, "fm");
    const sub = fashionMnist({ limit: 600 });
    const part = firstPerClass(sub, 5);
    for (const [img, lab] of [
      ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"],
      ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
    ]) {
      writeIdx(join(dir, img), { shape: [part.count, 28, 28], data: part.images });
      writeIdx(join(dir, lab), { shape: [part.count], data: part.labels });
    }
    const read = fashionMnist({ dir, split: "test" });
    expect(read.source).toBe(dir);
    expect(read.count).toBe(50);
    expect(counts(read.labels)).toEqual(new Array(10).fill(5));
    // A label file that disagrees with the image count is named.
    writeIdx(join(dir, "t10k-labels-idx1-ubyte"), { shape: [3], data: new Uint8Array(3) });
    expect(() => fashionMnist({ dir, split: "test" })).toThrow(/50 images but .*t10k-labels-idx1-ubyte has 3 labels/);
  });

  // The full set: Debian's dataset-fashion-mnist (installed in CI by .ci/run, which sets
  // MTLKIT_REQUIRE_FASHION_MNIST=1 so that this test fails there instead of skipping).
  const full = findFashionMnist();
  const required = process.env.MTLKIT_REQUIRE_FASHION_MNIST === "1";
  it.runIf(full !== undefined || required)("the full set has 60000/10000 images with 6000 per class in train", () => {
    expect(full, "MTLKIT_REQUIRE_FASHION_MNIST=1 but the full Fashion-MNIST was not found").toBeDefined();
    const train = fashionMnist({ source: "full" });
    expect(train.count).toBe(60000);
    expect(counts(train.labels)).toEqual(new Array(10).fill(6000));
    const test = fashionMnist({ source: "full", split: "test" });
    expect(test.count).toBe(10000);
    expect(counts(test.labels)).toEqual(new Array(10).fill(1000));
    // The subset is the first images of each class of the full set, byte for byte.
    const sub = fashionMnist();
    const first = firstPerClass(train, 400);
    expect(Buffer.from(first.images).equals(Buffer.from(sub.images))).toBe(true);
  });
});
