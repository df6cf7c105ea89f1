/** Option checks shared by the aggregators. */
import { check, checkKnownOptions } from "../errors";

export function options<T extends object>(where: string, given: T | undefined, known: readonly string[]): T {
  checkKnownOptions(where, given, known);
  return (given ?? {}) as T;
}

export function checkNumberIn(where: string, name: string, value: number, lo: number, hi: number, loOpen = false, hiOpen = false): void {
  const ok =
    typeof value === "number" && Number.isFinite(value) && (loOpen ? value > lo : value >= lo) && (hiOpen ? value < hi : value <= hi);
  check(ok, where, () => `option '${name}' must be in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}, got ${value}.`);
}

export function checkOneOf<T extends string>(where: string, name: string, value: T, allowed: readonly T[]): void {
  check(
    allowed.includes(value),
    where,
    () => `unknown ${name} ${JSON.stringify(value)}; expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}.`,
  );
}

/** A task order: a permutation of 0..k−1. */
export function checkOrder(where: string, order: readonly number[], k: number): void {
  const sorted = [...order].sort((a, b) => a - b);
  check(
    order.length === k && sorted.every((v, i) => v === i),
    where,
    () => `option 'order' must be a permutation of the ${k} task indices 0..${k - 1}, got [${order.join(", ")}].`,
  );
}
