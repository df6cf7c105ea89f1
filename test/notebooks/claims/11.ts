/**
 * Claims of notebooks/11-multimodal.ipynb, on the readings its run recorded: a second input helps
 * the tasks whose label depends on it (price needs both; category lives in the image, returned in
 * the table), and a model that cannot see a task's input does no better than the most frequent label.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

type Verdict = "better" | "worse" | "indistinguishable";
interface TaskReading {
  addTable: Verdict;
  addImage: Verdict;
  imageOnly: { mean: number; low: number; high: number };
  tableOnly: { mean: number; low: number; high: number };
  both: { mean: number; low: number; high: number };
}
interface Modalities {
  category: TaskReading;
  price: TaskReading;
  returned: TaskReading;
  tableHelps: string[];
  imageHelps: string[];
}
interface Blind {
  category: { mean: number; high: number; majority: number; standing: string };
  returned: { mean: number; high: number; majority: number; standing: string };
}

export default function claims(readings: Readings): void {
  const m = readings.get<Modalities>("11-modalities");
  // price depends on the class (image) and the brand (table): each single input falls short of both.
  expect(m.price.addTable).toBe("better");
  expect(m.price.addImage).toBe("better");
  // Each input helps the task that lives in it.
  expect(m.category.addImage).toBe("better");
  expect(m.returned.addTable).toBe("better");
  expect(m.tableHelps).toEqual(expect.arrayContaining(["price", "returned"]));
  expect(m.imageHelps).toEqual(expect.arrayContaining(["category", "price"]));
  // An input that carries nothing of a task's label does not make it better.
  expect(m.category.addTable).not.toBe("better");
  expect(m.returned.addImage).not.toBe("better");
  // Blind to a task's input, a model is not above the most frequent label.
  const b = readings.get<Blind>("11-blind");
  for (const task of ["category", "returned"] as const) expect(b[task].standing).not.toBe("above");
}
