/**
 * The fused native training step, the weighted rule's fast path: for a hard-sharing model built from mtlkit's dense layers with
 * tasks whose losses have a closed form (softmax cross-entropy, MSE, sigmoid cross-entropy),
 * constant task weights and mtlkit's Adam, the whole step — forward, losses, backward, gradient
 * norm, clipping and the Adam update — is one native call on the tensors' memory, instead of about
 * a hundred tfjs kernels. It computes the same function as the generic step (equal within float32
 * rounding; tested), and declines — returning undefined — whenever anything falls outside that
 * scope, so the trainer then takes the generic path.
 *
 * Refusals are the generic step's own: the native code applies nothing unless every loss (as a
 * float32 value, like tfjs's) and the gradient norm are finite, and a step it did not apply is
 * declined, so the generic step re-runs that batch and stops with the same error at the same step
 * (NonFiniteLossError, NonFiniteGradientError) or skips it with the same record under "skip".
 */
import * as tf from "@tensorflow/tfjs";
import { HardSharingModel } from "../../architectures/hardSharing";
import { Mlp } from "../../layers/block";
import { Dense } from "../../layers/dense";
import { FusedAdamOptimizer } from "../../native/adam";
import { nativeAddonFor } from "../../native/kernels";
import { writableView, HeapBackend, readInt32View, readView, wroteInPlace } from "../../native/views";
import { FusedLoss } from "../../tasks/task";
import type { Weighting } from "../../weighting/types";
import { checkModelTasks } from "../validate";
import type { StepInput, StepOutput } from "./types";

const LOSS_CODES: Record<FusedLoss, number> = { softmaxCrossEntropy: 0, meanSquaredError: 1, sigmoidCrossEntropy: 2 };

interface NativeLayer {
  kernel: Float32Array;
  bias: Float32Array;
  mKernel: Float32Array;
  vKernel: Float32Array;
  mBias: Float32Array;
  vBias: Float32Array;
  relu: boolean;
}

interface StepAddon {
  mlpStep(spec: {
    x: Float32Array;
    batch: number;
    trunk: NativeLayer[];
    heads: Array<{ layers: NativeLayer[]; loss: number; target: Float32Array | Int32Array; weight: number }>;
    adam: number[];
    clipNorm: number;
  }): { losses: number[]; gradNorm: number; applied: boolean };
}

function denseLayers(block: unknown): Dense[] | undefined {
  if (!(block instanceof Mlp)) return undefined;
  const ok = block.layers.every((l) => l.bias !== undefined && (l.activation === "relu" || l.activation === "linear"));
  return ok ? block.layers : undefined;
}

/** Constant weights of `equal` and `static` (the only methods whose weights need no context). */
function constantWeights(weighting: Weighting): number[] | undefined {
  if ((weighting.name !== "equal" && weighting.name !== "static") || weighting.variables().length > 0) return undefined;
  return weighting.weigh(undefined as never) as number[];
}

/** Runs the fused step, or returns undefined when the step is outside its scope. */
export function fusedMlpStep(input: StepInput, weighting: Weighting): StepOutput | undefined {
  const backendName = tf.getBackend();
  const addon = nativeAddonFor(backendName) as unknown as StepAddon | undefined;
  const { model, tasks, optimizer } = input;
  if (!addon || typeof addon.mlpStep !== "function") return undefined;
  // One input with every task's targets (not one dataset per task).
  const { batch } = input;
  // Label masks: the native losses are means over the whole batch, so a batch in which some task
  // lacks labels (rows cut, or the task left out) takes the generic step.
  if (batch.xs.length !== 1 || batch.part.some((p) => p !== 0) || batch.rows?.some((r) => r !== undefined)) return undefined;
  const inputX = batch.xs[0];
  // A model with named inputs (encoders per input, lib/architectures/namedInputs.ts) never engages:
  // the native step knows one dense input only, so it always takes the general step.
  if (model.inputs !== undefined) return undefined;
  if (!(model instanceof HardSharingModel) || !FusedAdamOptimizer.is(optimizer)) return undefined;
  if (input.regularizers.length > 0 || input.clipTaskNorm !== undefined) return undefined;
  const trunk = denseLayers(model.trunk);
  const heads = model.heads.map(denseLayers);
  if (!trunk || trunk.length === 0 || heads.some((h) => h?.[h.length - 1].activation !== "linear")) return undefined;
  if (tasks.some((t) => t.fusedLoss === undefined)) return undefined;
  // The native code indexes logits by class: a head narrower than its task must never reach it.
  if (heads.some((h, t) => h![h!.length - 1].units !== tasks[t].outputUnits)) checkModelTasks("Trainer (fused native step)", model, tasks);
  const weights = constantWeights(weighting);
  if (!weights) return undefined;

  // The variables in the order the optimizer's slots follow (the trainer's variable list).
  const index = new Map(input.variables.map((v, i) => [v, i]));
  const all = [...trunk, ...heads.flatMap((h) => h!)];
  if (all.some((d) => !index.has(d.kernel) || !index.has(d.bias!))) return undefined;
  // Allocate every slot before taking any view: allocation may move the wasm heap.
  const slots = all.map((d) => ({
    kernel: optimizer.slotsAt(index.get(d.kernel)!, d.kernel),
    bias: optimizer.slotsAt(index.get(d.bias!)!, d.bias!),
  }));
  const adam = optimizer.updateConstants();

  const backend = tf.backend() as unknown as HeapBackend;
  const own = (t: tf.Tensor) => writableView(backendName, backend, t);
  const layerViews = all.map((d, i): NativeLayer | undefined => {
    const views = [own(d.kernel), own(d.bias!), own(slots[i].kernel.m), own(slots[i].kernel.v), own(slots[i].bias.m), own(slots[i].bias.v)];
    if (views.some((v) => v === undefined)) return undefined;
    const [kernel, bias, mKernel, vKernel, mBias, vBias] = views as Float32Array[];
    return { kernel, bias, mKernel, vKernel, mBias, vBias, relu: d.activation === "relu" };
  });
  if (layerViews.some((l) => l === undefined)) return undefined;
  const x = readView(backendName, backend, inputX);
  const targets = tasks.map((t, i) =>
    t.fusedLoss === "softmaxCrossEntropy"
      ? readInt32View(backendName, backend, batch.targets[i]!)
      : readView(backendName, backend, batch.targets[i]!),
  );
  if (!x || targets.some((t) => t === undefined)) return undefined;

  let offset = trunk.length;
  const result = addon.mlpStep({
    x,
    batch: inputX.shape[0],
    trunk: layerViews.slice(0, trunk.length) as NativeLayer[],
    heads: heads.map((h, t) => {
      const layers = layerViews.slice(offset, offset + h!.length) as NativeLayer[];
      offset += h!.length;
      return { layers, loss: LOSS_CODES[tasks[t].fusedLoss!], target: targets[t]!, weight: weights[t] };
    }),
    adam,
    clipNorm: input.clipNorm ?? 0,
  });
  // Not applied: a loss or the gradient norm is not finite. Nothing was written (parameters, Adam
  // slots and step count are as before), so the generic step re-runs the batch and refuses or skips
  // it exactly as on any other model.
  if (!result.applied) return undefined;
  // The moments are read by nothing but the update: only the variables need wasm's caches dropped.
  for (const d of all) for (const t of [d.kernel, d.bias!]) wroteInPlace(backendName, backend, t);
  optimizer.finishNativeStep();
  return { losses: result.losses, weights, regularizers: [], applied: true, gradNorm: result.gradNorm };
}
