/**
 * Task metrics computed in float64 on plain arrays. Conventions (stated once, used everywhere):
 * - precision, recall and F1 of a class that never occurs in the targets nor the predictions
 *   (a 0/0 ratio) are defined as 0, never NaN, as scikit-learn's `zero_division=0` does;
 * - macro averages run over every class of the task, so a class the model never predicts counts.
 */

export interface ClassScores {
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
}

/** confusion[t][p] counts examples whose target is class t and prediction is class p. */
export function confusionMatrix(predicted: ArrayLike<number>, target: ArrayLike<number>, numClasses: number): number[][] {
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < target.length; i++) m[target[i]][predicted[i]] += 1;
  return m;
}

export function safeDivide(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/** Precision, recall, F1 and support of every class from a confusion matrix `confusion[target][predicted]`. */
export function perClassScores(confusion: number[][]): ClassScores {
  const k = confusion.length;
  const scores: ClassScores = { precision: [], recall: [], f1: [], support: [] };
  for (let c = 0; c < k; c++) {
    const tp = confusion[c][c];
    let predicted = 0;
    let actual = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      actual += confusion[c][j];
    }
    const p = safeDivide(tp, predicted);
    const r = safeDivide(tp, actual);
    scores.precision.push(p);
    scores.recall.push(r);
    scores.f1.push(safeDivide(2 * p * r, p + r));
    scores.support.push(actual);
  }
  return scores;
}

const mean = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Accuracy, macro precision/recall/F1 and micro F1 from a confusion matrix. */
export function classificationScores(confusion: number[][]): Record<string, number> {
  const k = confusion.length;
  let correct = 0;
  let total = 0;
  for (let t = 0; t < k; t++) {
    for (let p = 0; p < k; p++) total += confusion[t][p];
    correct += confusion[t][t];
  }
  const s = perClassScores(confusion);
  const accuracy = safeDivide(correct, total);
  return {
    accuracy,
    precisionMacro: mean(s.precision),
    recallMacro: mean(s.recall),
    f1Macro: mean(s.f1),
    // For single-label classification micro precision = micro recall = micro F1 = accuracy.
    f1Micro: accuracy,
  };
}

/** Binary scores for the positive class from 0/1 predictions and targets. */
export function binaryScores(predicted: ArrayLike<number>, target: ArrayLike<number>): Record<string, number> {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < target.length; i++) {
    const p = predicted[i] >= 0.5;
    const t = target[i] >= 0.5;
    if (p && t) tp++;
    else if (p && !t) fp++;
    else if (!p && t) fn++;
    else tn++;
  }
  return binaryScoresFromCounts(tp, fp, fn, tn);
}

/** Accuracy, precision, recall and F1 of the positive class from the four counts. */
export function binaryScoresFromCounts(tp: number, fp: number, fn: number, tn: number): Record<string, number> {
  const precision = safeDivide(tp, tp + fp);
  const recall = safeDivide(tp, tp + fn);
  return {
    accuracy: safeDivide(tp + tn, tp + tn + fp + fn),
    precision,
    recall,
    f1: safeDivide(2 * precision * recall, precision + recall),
  };
}

/** Running multi-label counts (predictions and targets are 0/1, thresholded at 0.5), batch by batch. */
export class MultiLabelCounts {
  private readonly tp: Float64Array;
  private readonly fp: Float64Array;
  private readonly fn: Float64Array;
  private agree = 0;
  private exact = 0;
  private rows = 0;

  constructor(readonly numLabels: number) {
    this.tp = new Float64Array(numLabels);
    this.fp = new Float64Array(numLabels);
    this.fn = new Float64Array(numLabels);
  }

  add(predicted: ArrayLike<number>, target: ArrayLike<number>, rows: number): void {
    const k = this.numLabels;
    for (let r = 0; r < rows; r++) {
      let all = true;
      for (let l = 0; l < k; l++) {
        const p = predicted[r * k + l] >= 0.5;
        const t = target[r * k + l] >= 0.5;
        if (p === t) this.agree++;
        else all = false;
        if (p && t) this.tp[l]++;
        else if (p && !t) this.fp[l]++;
        else if (!p && t) this.fn[l]++;
      }
      if (all) this.exact++;
    }
    this.rows += rows;
  }

  /** Per-label accuracy, exact-match accuracy, micro precision/recall/F1 and macro F1 over labels. */
  scores(): Record<string, number> {
    const sum = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0);
    const microP = safeDivide(sum(this.tp), sum(this.tp) + sum(this.fp));
    const microR = safeDivide(sum(this.tp), sum(this.tp) + sum(this.fn));
    const f1PerLabel = Array.from(this.tp, (t, l) => {
      const p = safeDivide(t, t + this.fp[l]);
      const r = safeDivide(t, t + this.fn[l]);
      return safeDivide(2 * p * r, p + r);
    });
    return {
      accuracy: safeDivide(this.agree, this.rows * this.numLabels),
      exactMatch: safeDivide(this.exact, this.rows),
      precisionMicro: microP,
      recallMicro: microR,
      f1Micro: safeDivide(2 * microP * microR, microP + microR),
      f1Macro: mean(f1PerLabel),
    };
  }
}

/** Multi-label scores: per-label accuracy, exact-match accuracy, micro and macro F1 over labels. */
export function multiLabelScores(predicted: ArrayLike<number>, target: ArrayLike<number>, numLabels: number): Record<string, number> {
  const counts = new MultiLabelCounts(numLabels);
  counts.add(predicted, target, target.length / numLabels);
  return counts.scores();
}

/** MSE, MAE and R² averaged over output columns (R² of a constant target column is 0). */
export function regressionScores(predicted: ArrayLike<number>, target: ArrayLike<number>, width: number): Record<string, number> {
  const rows = target.length / width;
  let se = 0;
  let ae = 0;
  let r2Sum = 0;
  for (let c = 0; c < width; c++) {
    let meanT = 0;
    for (let r = 0; r < rows; r++) meanT += target[r * width + c];
    meanT /= rows;
    let ssRes = 0;
    let ssTot = 0;
    for (let r = 0; r < rows; r++) {
      const i = r * width + c;
      const d = predicted[i] - target[i];
      ssRes += d * d;
      ae += Math.abs(d);
      ssTot += (target[i] - meanT) ** 2;
    }
    se += ssRes;
    r2Sum += ssTot === 0 ? 0 : 1 - ssRes / ssTot;
  }
  const n = rows * width;
  return { mse: safeDivide(se, n), mae: safeDivide(ae, n), r2: safeDivide(r2Sum, width) };
}
