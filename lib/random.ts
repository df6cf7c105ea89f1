/**
 * A small seeded pseudo-random generator (xoshiro128**) whose whole state is four 32-bit words,
 * so shuffling, initialisation and random methods are reproducible and can be checkpointed.
 */
import { MtlError } from "./errors";

/** The whole state of an {@link Rng}: four 32-bit words. */
export type RngState = [number, number, number, number];

/**
 * The value of a `seed` option: an integer (default 0). Anything else is refused naming the option,
 * because "abc" or NaN would otherwise act as seed 0 and two "different" seeds would silently agree.
 */
export function checkSeed(where: string, value: unknown, option = "seed"): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new MtlError(
      where,
      `option '${option}' must be an integer, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}.`,
    );
  }
  return value;
}

/**
 * A small seeded pseudo-random generator (xoshiro128**) whose whole state is four 32-bit words, so runs and
 * checkpoints are reproducible.
 */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number | RngState = 0) {
    this.s = new Uint32Array(4);
    if (Array.isArray(seed)) {
      this.setState(seed);
    } else {
      checkSeed("Rng", seed);
      // SplitMix32 expands one seed into four well-mixed words (seeds are taken modulo 2^32).
      let z = (seed >>> 0) ^ 0x9e3779b9;
      for (let i = 0; i < 4; i++) {
        z = (z + 0x9e3779b9) >>> 0;
        let t = z;
        t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
        t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (t ^ (t >>> 16)) >>> 0;
      }
      if (this.s.every((w) => w === 0)) this.s[0] = 1;
    }
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  setState(state: RngState): void {
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller. */
  normal(mean = 0, std = 1): number {
    let u = this.uniform();
    while (u <= 1e-300) u = this.uniform();
    const v = this.uniform();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** A fresh generator whose stream is independent of this one's future draws. */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
