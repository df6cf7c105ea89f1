/**
 * Builds a multi-task dataset from a table: a danfo DataFrame (anything with `columns` and
 * `column(name).values`) or an array of records. Numeric feature columns are used as they are,
 * string feature columns are one-hot encoded, and each task's target columns are encoded for
 * that task (class names to indices, booleans and two-label strings to 0/1).
 */
import { check, checkKnownOptions, MtlError } from "../errors";
import { Task, TargetArray } from "../tasks/task";
import { checkFiniteFeatures, MultiTaskData, validateForTasks } from "./dataset";
import { NamedInput } from "./inputs";

/** The part of danfo's DataFrame mtlkit reads. */
export interface DataFrameLike {
  columns: string[];
  column(name: string): { values: ArrayLike<unknown> };
}

/**
 * A table `fromDataFrame` reads: a danfo DataFrame (or anything with `columns` and `column(name).values`), or an
 * array of records.
 */
export type Table = DataFrameLike | Array<Record<string, unknown>>;

/**
 * Options of {@link fromDataFrame}: the feature columns, the tasks (their targets are the columns named after
 * them unless a task says otherwise), and what to do with missing values.
 */
export interface FromDataFrameOptions {
  /**
   * Feature columns; string columns are one-hot encoded as `column=value`. Or named inputs, each a
   * list of columns (`{ table: ["age", "income"], shop: ["region"] }`): each becomes a numeric
   * input of shape [its encoded column count] (see ./inputs.ts).
   */
  features: string[] | Record<string, string[]>;
  tasks: Task[];
  /**
   * What to do with rows that have a missing value (null, undefined, NaN, "") in a used column:
   * "refuse" (default) throws naming each column and its count; "drop" removes those rows;
   * "impute" fills missing feature values — numbers with the column's median, text with its most
   * frequent value — computed over the rows `imputeFrom` (default all rows; pass the training
   * rows so nothing leaks from validation or test), and drops rows whose target is missing
   * (a label cannot be imputed).
   * The object form chooses for features and labels apart: `{ features, labels }`, where labels is
   * "refuse", "drop" or "mask" (keep the row; the task's label is masked there, and its loss and
   * metrics skip the row: docs/missing-labels.md), for every task or per task name
   * (`labels: { sex: "mask" }`, unnamed tasks "refuse"). Both default to "refuse".
   */
  missing?: FeaturePolicy | MissingOptions;
  /** Row numbers whose values the imputation statistics are computed from (missing: "impute"). */
  imputeFrom?: ArrayLike<number>;
}

/** What to do with a missing feature value. */
export type FeaturePolicy = "refuse" | "drop" | "impute";
/** What to do with a missing label: refuse, drop the row, or mask the label on that row. */
export type LabelPolicy = "refuse" | "drop" | "mask";

/** `missing` chosen apart for features and labels (labels: one policy, or one per task name). */
export interface MissingOptions {
  /** Missing feature values (default "refuse"). */
  features?: FeaturePolicy;
  /** Missing labels: one policy for every task, or one per task name (default "refuse"). */
  labels?: LabelPolicy | Record<string, LabelPolicy>;
}

/** A dataset built from a table, with what the encoding did: the rows kept, the categories of one-hot columns, imputed values. */
export interface TableDataset extends MultiTaskData {
  /** Row numbers of the original table that were kept. */
  sourceRows: Int32Array;
  /** For each one-hot encoded feature column, its categories in encoding order. */
  categories: Record<string, string[]>;
  /** With missing: "impute", the value each feature column's gaps were filled with, and how many. */
  imputed?: Record<string, { value: number | string; count: number }>;
}

function isMissing(v: unknown): boolean {
  return v === null || v === undefined || v === "" || (typeof v === "number" && Number.isNaN(v));
}

function readColumns(table: Table, names: string[], where: string): Record<string, ArrayLike<unknown>> {
  const out: Record<string, ArrayLike<unknown>> = {};
  if (Array.isArray(table)) {
    const available = new Set(table.flatMap((r) => Object.keys(r ?? {})));
    for (const name of names) {
      check(available.has(name), where, () => `column '${name}' does not exist. Columns: ${[...available].join(", ")}.`);
      out[name] = table.map((r) => r?.[name]);
    }
    return out;
  }
  check(
    table && Array.isArray(table.columns) && typeof table.column === "function",
    where,
    () => "expected a danfo DataFrame or an array of records.",
  );
  for (const name of names) {
    check(table.columns.includes(name), where, () => `column '${name}' does not exist. Columns: ${table.columns.join(", ")}.`);
    out[name] = table.column(name).values;
  }
  return out;
}

/**
 * Builds a dataset from a table: text feature columns are one-hot encoded, class names become indices, and
 * missing values are refused with each column's count unless `missing` says "drop" or "impute". Every problem is
 * an MtlError naming the column and row.
 */
export function fromDataFrame(table: Table, options: FromDataFrameOptions): TableDataset {
  const where = "fromDataFrame";
  checkKnownOptions(where, options, ["features", "tasks", "missing", "imputeFrom"]);
  const groups = featureGroups(where, options?.features);
  const featureColumns = groups.flatMap((g) => g.columns);
  check(Array.isArray(options.tasks) && options.tasks.length > 0, where, () => "option 'tasks' must list at least one task.");
  const { features: featurePolicy, labels: labelPolicies } = resolveMissing(where, options.missing, options.tasks);
  check(
    options.imputeFrom === undefined || featurePolicy === "impute",
    where,
    () => "option 'imputeFrom' only applies with missing: \"impute\" (for features).",
  );
  const targetColumns = options.tasks.flatMap((t) => t.columns);
  for (const c of featureColumns) {
    check(!targetColumns.includes(c), where, () => `column '${c}' is both a feature and a target; a model would see its own answer.`);
  }
  const used = [...new Set([...featureColumns, ...targetColumns])];
  const columns = readColumns(table, used, where);
  const total = columns[used[0]].length;
  check(total > 0, where, () => "the table has no rows.");
  const imputed = featurePolicy === "impute" ? imputeFeatures(where, columns, featureColumns, total, options.imputeFrom) : undefined;

  // Missing values: refuse with counts per column, drop those rows, or mask the task's label there.
  const policyOf = new Map<string, FeaturePolicy | LabelPolicy>(
    featureColumns.map((c) => [c, featurePolicy === "impute" ? "refuse" : featurePolicy]),
  );
  options.tasks.forEach((t, i) => t.columns.forEach((c) => policyOf.set(c, labelPolicies[i])));
  const counts: Record<string, number> = {};
  const keep: number[] = [];
  const unlabelled = options.tasks.map(() => new Set<number>());
  for (let r = 0; r < total; r++) {
    const gaps = used.filter((c) => isMissing(columns[c][r]));
    // A row that a "drop" column removes anyway is not refused for another column's gap.
    const dropped = gaps.some((c) => policyOf.get(c) === "drop");
    let ok = !dropped;
    for (const c of gaps) {
      const policy = policyOf.get(c);
      if (policy === "refuse" && !dropped) counts[c] = (counts[c] ?? 0) + 1;
      if (policy === "refuse") ok = false;
    }
    options.tasks.forEach((t, i) => {
      if (labelPolicies[i] === "mask" && t.columns.some((c) => isMissing(columns[c][r]))) unlabelled[i].add(r);
    });
    if (ok) keep.push(r);
  }
  if (Object.keys(counts).length > 0) {
    const list = Object.entries(counts)
      .map(([c, n]) => `'${c}' (${n} rows)`)
      .join(", ");
    throw new MtlError(
      where,
      `missing values in ${list}; pass missing: "drop" to remove those rows, missing: { labels: "mask" } to keep rows without a label, or fill them first.`,
    );
  }
  const rows = keep.length;
  check(rows > 0, where, () => "no rows are left after dropping rows with missing values.");

  // Features: numbers as they are, strings one-hot.
  const featureNames: string[] = [];
  const categories: Record<string, string[]> = {};
  const encoders: Array<(r: number, out: Float32Array, offset: number) => number> = [];
  const widths: Record<string, number> = {};
  for (const c of featureColumns) {
    const before = featureNames.length;
    const values = columns[c];
    const kind = typeof values[keep[0]];
    if (kind === "number" || kind === "boolean") {
      featureNames.push(c);
      encoders.push((r, out, o) => {
        const v = values[r];
        if (typeof v !== "number" && typeof v !== "boolean") {
          throw new MtlError(where, `feature column '${c}' mixes numbers and ${typeof v} (${JSON.stringify(v)} at row ${r}).`);
        }
        out[o] = Number(v);
        return 1;
      });
    } else {
      const cats = [...new Set(keep.map((r) => String(values[r])))].sort();
      categories[c] = cats;
      for (const cat of cats) featureNames.push(`${c}=${cat}`);
      encoders.push((r, out, o) => {
        out[o + cats.indexOf(String(values[r]))] = 1;
        return cats.length;
      });
    }
    widths[c] = featureNames.length - before;
  }
  const featureCount = featureNames.length;
  const features = new Float32Array(rows * featureCount);
  keep.forEach((r, i) => {
    let o = i * featureCount;
    for (const enc of encoders) o += enc(r, features, o);
  });
  checkFiniteFeatures(where, features, featureCount, featureNames);

  const targets: Record<string, TargetArray> = {};
  const masks: Record<string, Uint8Array> = {};
  options.tasks.forEach((task, i) => {
    const mask = labelPolicies[i] === "mask" ? Uint8Array.from(keep, (r) => (unlabelled[i].has(r) ? 0 : 1)) : undefined;
    targets[task.name] = encodeTargets(task, columns, keep, mask);
    if (mask) masks[task.name] = mask;
  });
  const data: TableDataset = {
    rows,
    features,
    featureCount,
    featureNames,
    targets,
    sourceRows: Int32Array.from(keep),
    categories,
    ...(Object.keys(masks).length > 0 ? { masks } : {}),
  };
  if (imputed) data.imputed = imputed;
  if (!Array.isArray(options.features)) {
    const inputs: NamedInput[] = groups.map((g) => ({
      name: g.name!,
      shape: [g.columns.reduce((s, c) => s + widths[c], 0)],
      kind: "numeric",
    }));
    Object.assign(data, { inputs });
  }
  validateForTasks(data, options.tasks);
  return data;
}

/** The resolved policies: one for the features, one per task (in task order) for its labels. */
function resolveMissing(
  where: string,
  missing: FromDataFrameOptions["missing"],
  tasks: Task[],
): { features: FeaturePolicy; labels: LabelPolicy[] } {
  const given = missing ?? "refuse";
  if (typeof given === "string") {
    check(
      given === "refuse" || given === "drop" || given === "impute",
      where,
      () => `option 'missing' must be "refuse", "drop", "impute" or { features, labels }, got ${JSON.stringify(given)}.`,
    );
    return { features: given, labels: tasks.map(() => (given === "refuse" ? "refuse" : "drop")) };
  }
  check(
    given !== null && typeof given === "object" && !Array.isArray(given),
    where,
    () => `option 'missing' must be "refuse", "drop", "impute" or { features, labels }, got ${JSON.stringify(given)}.`,
  );
  checkKnownOptions(`${where} (option 'missing')`, given, ["features", "labels"]);
  const features = given.features ?? "refuse";
  check(
    features === "refuse" || features === "drop" || features === "impute",
    where,
    () => `option 'missing.features' must be "refuse", "drop" or "impute", got ${JSON.stringify(features)}.`,
  );
  const labels = given.labels ?? "refuse";
  const isPolicy = (p: unknown): p is LabelPolicy => p === "refuse" || p === "drop" || p === "mask";
  if (typeof labels === "string") {
    check(
      isPolicy(labels),
      where,
      () => `option 'missing.labels' must be "refuse", "drop", "mask" or one of those per task name, got ${JSON.stringify(labels)}.`,
    );
    return { features, labels: tasks.map(() => labels) };
  }
  check(
    labels !== null && typeof labels === "object",
    where,
    () => `option 'missing.labels' must be "refuse", "drop", "mask" or one of those per task name, got ${JSON.stringify(labels)}.`,
  );
  for (const [name, p] of Object.entries(labels)) {
    check(
      tasks.some((t) => t.name === name),
      where,
      () => `option 'missing.labels' names task '${name}', which is not one of the tasks (${tasks.map((t) => t.name).join(", ")}).`,
    );
    check(
      isPolicy(p),
      where,
      () => `option 'missing.labels' gives task '${name}' ${JSON.stringify(p)}; expected "refuse", "drop" or "mask".`,
    );
  }
  return { features, labels: tasks.map((t) => labels[t.name] ?? "refuse") };
}

/** The feature columns, one group per named input (or one unnamed group), each checked. */
function featureGroups(where: string, features: unknown): Array<{ name?: string; columns: string[] }> {
  if (Array.isArray(features)) {
    check(features.length > 0, where, () => "option 'features' must list at least one column.");
    return [{ columns: features }];
  }
  check(
    features !== null && typeof features === "object" && Object.keys(features).length > 0,
    where,
    () => "option 'features' must list at least one column, or map input names to lists of columns.",
  );
  const seen = new Map<string, string>();
  return Object.entries(features as Record<string, unknown>).map(([name, columns]) => {
    check(
      Array.isArray(columns) && columns.length > 0 && columns.every((c) => typeof c === "string"),
      where,
      () => `input '${name}' of option 'features' must list at least one column name, got ${JSON.stringify(columns)}.`,
    );
    for (const c of columns as string[]) {
      check(!seen.has(c), where, () => `column '${c}' is in input '${seen.get(c)}' and in input '${name}'; a column belongs to one input.`);
      seen.set(c, name);
    }
    return { name, columns: columns as string[] };
  });
}

/** A task's targets on the kept rows; rows whose `mask` is 0 hold the placeholder 0 and are not read. */
function encodeTargets(task: Task, columns: Record<string, ArrayLike<unknown>>, keep: number[], mask?: Uint8Array): TargetArray {
  const where = `${task.kind}('${task.name}')`;
  const width = task.targetWidth;
  const n = keep.length;
  if (task.kind === "classification") {
    const values = columns[task.columns[0]];
    const labels = task.labels;
    const out = new Int32Array(n);
    keep.forEach((r, i) => {
      if (mask && !mask[i]) return;
      const v = values[r];
      if (typeof v === "number") out[i] = v;
      else if (labels) {
        const idx = labels.indexOf(String(v));
        if (idx < 0)
          throw new MtlError(
            where,
            `label ${JSON.stringify(v)} at row ${r} of column '${task.columns[0]}' is not one of the classes (${labels.join(", ")}).`,
          );
        out[i] = idx;
      } else {
        throw new MtlError(
          where,
          `column '${task.columns[0]}' holds text labels (${JSON.stringify(v)} at row ${r}); give the task its class names: classes: [...].`,
        );
      }
    });
    return { values: out, width: 1 };
  }
  const out = new Float32Array(n * width);
  task.columns.forEach((column, c) => {
    const values = columns[column];
    keep.forEach((r, i) => {
      if (mask && !mask[i]) return;
      const v = values[r];
      let x: number;
      if (typeof v === "number") x = v;
      else if (typeof v === "boolean") x = v ? 1 : 0;
      else if (task.kind === "binary" && task.labels) {
        x = task.labels.indexOf(String(v));
        if (x < 0)
          throw new MtlError(
            where,
            `label ${JSON.stringify(v)} at row ${r} of column '${column}' is neither of the labels (${task.labels.join(", ")}).`,
          );
      } else {
        const what =
          task.kind === "regression"
            ? "a regression target must be numeric"
            : "labels must be 0/1, booleans, or the task's two label names";
        throw new MtlError(where, `column '${column}' has ${JSON.stringify(v)} at row ${r}; ${what}.`);
      }
      out[i * width + c] = x;
    });
  });
  return { values: out, width };
}

/**
 * Fills the missing values of the feature columns in place (on copies): numbers with the median,
 * text with the most frequent value (ties: the first in sorted order), over the rows `from`.
 */
function imputeFeatures(
  where: string,
  columns: Record<string, ArrayLike<unknown>>,
  features: string[],
  total: number,
  from?: ArrayLike<number>,
): Record<string, { value: number | string; count: number }> {
  const rows = from ? Array.from(from) : Array.from({ length: total }, (_, r) => r);
  for (const r of rows)
    check(Number.isInteger(r) && r >= 0 && r < total, where, () => `option 'imputeFrom' has row ${r}, outside the table's ${total} rows.`);
  const out: Record<string, { value: number | string; count: number }> = {};
  for (const c of features) {
    const values = Array.from(columns[c]);
    const gaps = values.reduce<number>((n, v) => n + (isMissing(v) ? 1 : 0), 0);
    if (gaps === 0) continue;
    const present = rows.map((r) => values[r]).filter((v) => !isMissing(v));
    check(present.length > 0, where, () => `feature column '${c}' has no value in the rows used for imputation; nothing to impute from.`);
    let fill: number | string;
    if (present.every((v) => typeof v === "number" || typeof v === "boolean")) {
      const sorted = present.map(Number).sort((a, b) => a - b);
      const m = sorted.length >> 1;
      fill = sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    } else {
      const counts = new Map<string, number>();
      for (const v of present) counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
      fill = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
    }
    columns[c] = values.map((v) => (isMissing(v) ? fill : v));
    out[c] = { value: fill, count: gaps };
  }
  return out;
}
