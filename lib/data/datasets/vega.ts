/**
 * Tables from the npm package `vega-datasets` (a dependency; nothing is downloaded). Each loader
 * returns an array of records, ready for `fromDataFrame(table, { features, tasks })` or danfo's
 * `new DataFrame(table)`. Column names are the package's. Missing values are `null` (penguins'
 * "." sex entries, cars' absent fields), so fromDataFrame's `missing` option decides about them.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { MtlError } from "../../errors";

/** One record of a vega-datasets table; missing values are null. */
export type Row = Record<string, string | number | null>;

/** Where a bundled table comes from: source, license, size, columns and the tasks it offers. */
export interface TableInfo {
  name: string;
  source: string;
  license: string;
  rows: number;
  columns: string[];
  /** Targets it offers, as tasks. */
  tasks: string[];
}

function vegaDataDir(): string {
  // The package's "exports" hide package.json, so look in each node_modules folder Node would search.
  const tried: string[] = [];
  for (const dir of require.resolve.paths("vega-datasets") ?? []) {
    const data = join(dir, "vega-datasets", "data");
    tried.push(data);
    if (existsSync(data)) return data;
  }
  throw new MtlError(
    "vega-datasets",
    `the npm package 'vega-datasets' was not found (looked in ${tried.slice(0, 3).join(", ")}${tried.length > 3 ? ", …" : ""}); it is a dependency of mtlkit: npm install vega-datasets@3.2.1.`,
  );
}

function readData(file: string): string {
  const path = join(vegaDataDir(), file);
  if (!existsSync(path)) throw new MtlError("vega-datasets", `${file} is missing: looked for ${path}. Reinstall vega-datasets@3.2.1.`);
  return readFileSync(path, "utf8");
}

function parseCsv(text: string): Row[] {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0].split(",");
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const row: Row = {};
    header.forEach((h, i) => {
      const c = cells[i];
      row[h] = c === undefined || c === "" ? null : h !== "date" && !Number.isNaN(Number(c)) ? Number(c) : c;
    });
    return row;
  });
}

function normalise(rows: Array<Record<string, unknown>>): Row[] {
  return rows.map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) out[k] = v === undefined || v === "." ? null : (v as string | number | null);
    return out;
  });
}

/** Source and license of {@link penguins}. */
export const PENGUINS_INFO: TableInfo = {
  name: "penguins",
  source: "Palmer Station LTER (Gorman, Williams & Fraser 2014) via palmerpenguins; vega-datasets 3.2.1 penguins.json",
  license: "CC0 1.0",
  rows: 344,
  columns: ["Species", "Island", "Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)", "Sex"],
  tasks: ["Species (3 classes: Adelie 152, Gentoo 124, Chinstrap 68)", "Sex (binary; 11 missing)", "Body Mass (g) (regression; 2 missing)"],
};

/** 344 penguins of three species; "." and absent values become null. */
export function penguins(): Row[] {
  return normalise(JSON.parse(readData("penguins.json")));
}

/** Source and license of {@link seattleWeather}. */
export const SEATTLE_WEATHER_INFO: TableInfo = {
  name: "seattleWeather",
  source: "NOAA National Climatic Data Center, Seattle 2012–2015; vega-datasets 3.2.1 seattle-weather.csv",
  license: "U.S. Government work (public domain)",
  rows: 1461,
  columns: ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"],
  tasks: [
    "weather (5 classes, imbalanced: rain 641, sun 640, fog 101, drizzle 53, snow 26)",
    "temp_max, temp_min, precipitation (regression)",
  ],
};

/** Daily Seattle weather, 2012–2015 (1461 days). */
export function seattleWeather(): Row[] {
  return parseCsv(readData("seattle-weather.csv"));
}

/** Source and license of {@link weather}. */
export const WEATHER_INFO: TableInfo = {
  name: "weather",
  source: "NOAA Climate Data Online, Seattle and New York 2012–2015; vega-datasets 3.2.1 weather.csv",
  license: "U.S. Government work (public domain)",
  rows: 2922,
  columns: ["location", "date", "precipitation", "temp_max", "temp_min", "wind", "weather"],
  tasks: [
    "weather (5 classes)",
    "temp_max, temp_min, precipitation (regression)",
    "location as a second dataset (multi-dataset: one per city)",
  ],
};

/** Daily weather of Seattle and New York, 2012–2015 (2 × 1461 days). */
export function weather(): Row[] {
  return parseCsv(readData("weather.csv"));
}

/** Source and license of {@link cars}. */
export const CARS_INFO: TableInfo = {
  name: "cars",
  source: "StatLib (CMU) auto MPG data, 1970–1982; vega-datasets 3.2.1 cars.json",
  license: "StatLib: free for educational and scientific use",
  rows: 406,
  columns: ["Name", "Miles_per_Gallon", "Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration", "Year", "Origin"],
  tasks: ["Miles_per_Gallon (regression; 8 missing)", "Origin (3 classes: USA, Europe, Japan)", "Cylinders (5 classes)"],
};

/** 406 cars, 1970–1982. */
export function cars(): Row[] {
  return normalise(JSON.parse(readData("cars.json")));
}

/**
 * Balanced class weights w_c = n / (k · n_c) (scikit-learn's "balanced"), for
 * `classification(name, { classes, classWeights })` on imbalanced labels; a class that never
 * occurs gets weight 0.
 */
export function balancedClassWeights(labels: ArrayLike<number | string>, classes: Array<number | string>): number[] {
  const counts = new Map<string, number>();
  for (let i = 0; i < labels.length; i++) counts.set(String(labels[i]), (counts.get(String(labels[i])) ?? 0) + 1);
  const n = labels.length;
  const k = classes.length;
  return classes.map((c) => {
    const nc = counts.get(String(c)) ?? 0;
    return nc > 0 ? n / (k * nc) : 0;
  });
}
