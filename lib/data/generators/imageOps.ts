/** Small image operations on grey-scale float images (row-major, values in [0, 1]). */

/**
 * Bilinear resize with half-pixel centres (the convention of PIL, OpenCV's INTER_LINEAR and
 * tf.image.resizeBilinear with halfPixelCenters): output pixel (i, j) samples the input at
 * ((i + ½)·H/h − ½, (j + ½)·W/w − ½), clamped to the image.
 */
export function resizeBilinear(src: Float32Array, H: number, W: number, h: number, w: number, out = new Float32Array(h * w)): Float32Array {
  const sy = H / h;
  const sx = W / w;
  for (let i = 0; i < h; i++) {
    const y = Math.min(Math.max((i + 0.5) * sy - 0.5, 0), H - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(y0 + 1, H - 1);
    const fy = y - y0;
    for (let j = 0; j < w; j++) {
      const x = Math.min(Math.max((j + 0.5) * sx - 0.5, 0), W - 1);
      const x0 = Math.floor(x);
      const x1 = Math.min(x0 + 1, W - 1);
      const fx = x - x0;
      const top = src[y0 * W + x0] * (1 - fx) + src[y0 * W + x1] * fx;
      const bottom = src[y1 * W + x0] * (1 - fx) + src[y1 * W + x1] * fx;
      out[i * w + j] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Pastes an h×w image into a canvas at (top, left) by pixel-wise maximum (how overlaps combine). */
export function pasteMax(
  canvas: Float32Array,
  canvasWidth: number,
  img: ArrayLike<number>,
  h: number,
  w: number,
  top: number,
  left: number,
  scale = 1,
): void {
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const k = (top + i) * canvasWidth + left + j;
      const v = img[i * w + j] * scale;
      if (v > canvas[k]) canvas[k] = v;
    }
  }
}

/** Tight box [x0, y0, x1, y1) of the pixels above `threshold`, or undefined for an empty image. */
export function inkBox(img: ArrayLike<number>, h: number, w: number, threshold = 0): [number, number, number, number] | undefined {
  let x0 = w,
    y0 = h,
    x1 = -1,
    y1 = -1;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      if (img[i * w + j] > threshold) {
        if (j < x0) x0 = j;
        if (j > x1) x1 = j;
        if (i < y0) y0 = i;
        if (i > y1) y1 = i;
      }
    }
  }
  return x1 < 0 ? undefined : [x0, y0, x1 + 1, y1 + 1];
}
