/**
 * Models with named inputs (several modalities): an encoder per input, fused by concatenation into
 * one vector u that the architecture takes as its input:
 *
 *   u = [e_1(x_1), …, e_m(x_m)]          (x_j: input j's columns of x, e_j: its encoder)
 *   outputs = architecture(u)
 *
 * Built by giving an architecture `inputs` (e.g. a dataset's `inputs`) and `encoders` (one per
 * input) instead of `inputSize`: `mtl.hardSharing({ inputs: train.inputs, encoders: { image:
 * mtl.layers.cnnEncoder({...}), table: [16] }, trunk: [64], tasks })`. An encoder is layer sizes (an MLP;
 * `[]` passes the input through as it is), a Block such as `cnnEncoder` or `textEncoder`, a
 * tf.LayersModel, or `{ apply, variables, outputSize }`. Token inputs need an encoder that reads ids
 * (a textEncoder, or your own block), never an MLP.
 *
 * Shared and task parameters (the trainer's contract, see types.ts): θ_s = every encoder (every
 * task's output depends on them) + the architecture's θ_s; θ_i = the architecture's θ_i. The shared
 * representation z: where the architecture's task paths read only its representation (hard
 * sharing: z = trunk(u), "the fused trunk output"; PLE with ≥ 2 levels), z is the architecture's
 * own; where they also read the input (MMoE's and CGC's gates and CGC's task experts read u), z =
 * [u, the architecture's z] side by side, so that every path from the encoders to a task's loss
 * goes through z and "rep"-level balancing differentiates all of them. Soft sharing and
 * cross-stitch refuse named inputs (each task has its own tower from the raw input there).
 * The fused native MLP step never engages: it knows one dense input only (the general step runs).
 */
import * as tf from "@tensorflow/tfjs";
import { checkNamedInputs, describeInput, describeInputs, NamedInput, inputOffsets, inputSize } from "../data/inputs";
import { check, MtlError } from "../errors";
import { Activation } from "../layers/activations";
import { Block, BlockSpec, makeBlock } from "../layers/block";
import { CnnEncoder } from "../layers/cnnEncoder";
import { Initializer } from "../layers/dense";
import { TextCnnEncoder } from "../layers/textEncoder";
import { Rng } from "../random";
import { splitColumns, sumFlops } from "./parts";
import { BaseModel, MultiTaskModel } from "./types";

/** An input's encoder: layer sizes (an MLP; [] = the input as it is), a Block, a LayersModel or a function block. */
export type EncoderSpec = BlockSpec | Block;

/** The options that give an architecture named inputs (instead of `inputSize`). */
export interface NamedInputsOptions {
  /** The named inputs, in the order their columns lie in the data (e.g. a dataset's `inputs`). */
  inputs: readonly NamedInput[];
  /** One encoder per input name. */
  encoders: Record<string, EncoderSpec>;
}

/** An architecture's options with named inputs in place of `inputSize`. */
export type WithNamedInputs<O extends { inputSize: number }> = Omit<O, "inputSize"> & NamedInputsOptions;

/** Whether architecture options ask for named inputs. */
export function hasNamedInputs(options: unknown): boolean {
  return options !== null && typeof options === "object" && ("inputs" in options || "encoders" in options);
}

/**
 * How an architecture's task paths read the input, for {@link NamedInputsModel}'s constructor:
 * "representation" when they read only the fused representation z (hard sharing, a PLE of several
 * levels), "input" when they also read it directly (the gates of MMoE and CGC). The factories set it.
 */
export type DecodeReads = "representation" | "input";

/** A multi-task model whose input is several named inputs, each with its own encoder, fused by concatenation. */
export class NamedInputsModel<M extends MultiTaskModel = MultiTaskModel> extends BaseModel {
  readonly architecture: string;
  readonly taskNames: readonly string[];
  /** Σ of the inputs' sizes: the width of x, the inputs' columns side by side. */
  readonly inputSize: number;
  readonly inputs: readonly NamedInput[];
  /** One encoder per input, in the order of `inputs`. */
  readonly encoders: readonly Block[];
  /** The architecture on the fused vector u (its inputSize = fusedSize). */
  readonly inner: M;
  /** The width of u = Σ of the encoders' output sizes. */
  readonly fusedSize: number;
  /** Whether z carries u in front of the architecture's z (its task paths read their input). */
  readonly carriesFused: boolean;
  private readonly offsets: number[];

  /**
   * `builtFrom`: the options the architecture's factory was given (inputs, encoders and the rest),
   * recorded so that `save` describes the model and `mtl.loadModel` rebuilds it through that factory.
   */
  constructor(inputs: readonly NamedInput[], encoders: Block[], inner: M, decodeReads: DecodeReads, builtFrom?: object) {
    super();
    if (builtFrom) this.recordOptions(builtFrom);
    this.inputs = inputs.map((s) => ({ name: s.name, shape: [...s.shape], kind: s.kind }));
    this.encoders = encoders;
    this.inner = inner;
    this.architecture = inner.architecture;
    this.taskNames = inner.taskNames;
    this.offsets = inputOffsets(inputs);
    this.inputSize = inputs.reduce((s, spec) => s + inputSize(spec), 0);
    this.fusedSize = encoders.reduce((s, e) => s + e.outputSize, 0);
    this.carriesFused = decodeReads === "input";
  }

  /** u = [e_1(x_1), …, e_m(x_m)]: each input's encoder on its columns of x, side by side. */
  fuse(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const parts = this.encoders.map((encoder, j) => {
        const size = inputSize(this.inputs[j]);
        const xj = this.encoders.length === 1 ? x : (tf.slice(x, [0, this.offsets[j]], [-1, size]) as tf.Tensor2D);
        return encoder.apply(xj, training);
      });
      return parts.length === 1 ? parts[0] : (tf.concat(parts, 1) as tf.Tensor2D);
    });
  }

  encode(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const u = this.fuse(x, training);
      const z = this.inner.encode(u, training);
      return this.carriesFused ? (tf.concat([u, z], 1) as tf.Tensor2D) : z;
    });
  }

  decode(z: tf.Tensor2D, _x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    if (!this.carriesFused) {
      // The architecture's task paths read only z (its decode ignores its input argument).
      return this.inner.decode(z, z, training);
    }
    const [u, inner] = splitColumns(z, [this.fusedSize, z.shape[1] - this.fusedSize]);
    return this.inner.decode(inner, u, training);
  }

  /**
   * The outputs for inputs given by name: `{ image: [n, 28, 28, 1] or [n, 784], table: [n, 8] }`.
   * Every input the model takes must be there, none other, each with the same number of rows.
   */
  forwardNamed(inputs: Record<string, tf.Tensor>, training = false): tf.Tensor2D[] {
    const where = `${this.architecture} model (named inputs)`;
    check(
      inputs !== null && typeof inputs === "object",
      where,
      () => `expected { ${this.inputs.map((s) => `${s.name}: tensor`).join(", ")} }.`,
    );
    for (const name of Object.keys(inputs)) {
      check(
        this.inputs.some((s) => s.name === name),
        where,
        () => `input '${name}' is not an input the model knows (it takes ${describeInputs(this.inputs)}).`,
      );
    }
    let rows: number | undefined;
    const first = this.inputs[0].name;
    for (const spec of this.inputs) {
      const t = inputs[spec.name];
      check(
        t !== undefined && t !== null && Array.isArray(t.shape),
        where,
        () => `input '${spec.name}' (${describeInput(spec)}) is missing.`,
      );
      const size = inputSize(spec);
      const rowShape = t.shape.slice(1);
      const fits =
        (rowShape.length === 1 && rowShape[0] === size) ||
        (rowShape.length === spec.shape.length && rowShape.every((d, i) => d === spec.shape[i]));
      check(
        fits,
        where,
        () => `input '${spec.name}' has shape [${t.shape}]; the model takes [rows, ${spec.shape.join(", ")}] (or [rows, ${size}]).`,
      );
      rows ??= t.shape[0];
      check(t.shape[0] === rows, where, () => `input '${spec.name}' has ${t.shape[0]} rows but input '${first}' has ${rows}.`);
    }
    return tf.tidy(() => {
      const flat = this.inputs.map((spec) => tf.reshape(tf.cast(inputs[spec.name], "float32"), [rows!, inputSize(spec)]));
      const x = (flat.length === 1 ? flat[0] : tf.concat(flat, 1)) as tf.Tensor2D;
      return this.forward(x, training);
    });
  }

  /** The encoders' variables, named `encoder.<input>.<the block's own name>`. */
  private encoderVariables(): Array<[string, tf.Variable]> {
    return this.encoders.flatMap((e, j) => {
      const prefix = `encoder.${this.inputs[j].name}.`;
      return e.namedVariables().map(([name, v]): [string, tf.Variable] => [name.startsWith(prefix) ? name : prefix + name, v]);
    });
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    return [...this.encoderVariables(), ...this.inner.sharedVariables()];
  }

  taskVariables(taskIndex: number): Array<[string, tf.Variable]> {
    return this.inner.taskVariables(taskIndex);
  }

  flopsPerExample(): number | undefined {
    return sumFlops([...this.encoders.map((e) => e.flopsPerExample()), this.inner.flopsPerExample()]);
  }

  dispose(): void {
    for (const e of this.encoders) e.dispose();
    this.inner.dispose();
  }
}

/** What every architecture's own options share for building MLP encoders. */
interface EncoderDefaults {
  activation?: Activation;
  init?: Initializer;
  seed?: number;
}

function isBlock(spec: unknown): spec is Block {
  const b = spec as Block;
  return (
    b !== null &&
    typeof b === "object" &&
    typeof b.apply === "function" &&
    typeof b.namedVariables === "function" &&
    typeof b.inputSize === "number" &&
    typeof b.outputSize === "number"
  );
}

/** Builds and checks one input's encoder; errors name the input. */
function buildEncoder(where: string, spec: NamedInput, given: EncoderSpec | undefined, rng: Rng, defaults: EncoderDefaults): Block {
  const size = inputSize(spec);
  check(
    given !== undefined,
    where,
    () =>
      `input '${spec.name}' (${describeInput(spec)}) has no encoder; give one in option 'encoders' (layer sizes, [] for the input as it is, or a block such as mtl.layers.cnnEncoder / mtl.layers.textEncoder).`,
  );
  if (spec.kind === "tokens") {
    check(
      !Array.isArray(given),
      where,
      () =>
        `input '${spec.name}' holds token ids, which an MLP would read as magnitudes; encode it with mtl.layers.textEncoder({ sequenceLength: ${size}, vocabularySize }) or your own block.`,
    );
  } else {
    check(
      !(given instanceof TextCnnEncoder),
      where,
      () =>
        `input '${spec.name}' is numeric but its encoder is a text encoder (it reads token ids); build the input with kind "tokens", or give a numeric encoder.`,
    );
  }
  let block: Block;
  if (isBlock(given)) {
    block = given;
    check(
      block.inputSize === size,
      where,
      () =>
        `the encoder of input '${spec.name}' takes ${block.inputSize} values per row but the input has ${size} (${spec.shape.join("×")}).`,
    );
    if (given instanceof CnnEncoder) {
      const s = given.shape;
      check(
        spec.shape.length === 3 && spec.shape.every((d, i) => d === s[i]),
        where,
        () => `the encoder of input '${spec.name}' is a CNN for ${s.join("×")} images but the input's rows are ${spec.shape.join("×")}.`,
      );
    }
  } else {
    block = makeBlock(Array.isArray(given) ? `encoder.${spec.name}.mlp` : `encoder.${spec.name}`, size, given, rng, {
      activation: defaults.activation,
      init: defaults.init,
    });
  }
  check(block.outputSize > 0, where, () => `the encoder of input '${spec.name}' outputs no values.`);
  return block;
}

/**
 * Builds a model with named inputs: checks `inputs` and `encoders` (naming the input at fault),
 * builds the encoders, then the architecture on the fused width with `build`.
 */
export function buildNamedInputsModel<O extends { inputSize: number } & EncoderDefaults, M extends MultiTaskModel>(
  where: string,
  options: WithNamedInputs<O>,
  build: (options: O) => M,
  decodeReads: (model: M) => DecodeReads,
): NamedInputsModel<M> {
  check(options !== null && typeof options === "object", where, () => "expected an options object.");
  const { inputs, encoders, ...rest } = options as NamedInputsOptions & Record<string, unknown>;
  check(
    !("inputSize" in rest),
    where,
    () => "give either 'inputSize' (one input) or 'inputs' and 'encoders' (named inputs), not both: named inputs fix the input width.",
  );
  check(
    inputs !== undefined && encoders !== undefined,
    where,
    () =>
      `named inputs need both 'inputs' (names, shapes, kinds, e.g. a dataset's inputs) and 'encoders' (one per input); got only '${inputs === undefined ? "encoders" : "inputs"}'.`,
  );
  checkNamedInputs(where, inputs);
  check(
    encoders !== null && typeof encoders === "object" && !Array.isArray(encoders),
    where,
    () => "option 'encoders' must map input names to encoders.",
  );
  for (const name of Object.keys(encoders)) {
    check(
      inputs.some((s) => s.name === name),
      where,
      () => `option 'encoders' names input '${name}', which is not one of the inputs (${describeInputs(inputs)}).`,
    );
  }
  const defaults = rest as EncoderDefaults;
  // Encoders draw from their own stream, so the architecture's initialisation is the same with or without them.
  const rng = new Rng(((defaults.seed ?? 0) + 0x5eed) >>> 0);
  const built: Block[] = [];
  try {
    for (const spec of inputs) built.push(buildEncoder(where, spec, encoders[spec.name], rng, defaults));
    check(
      new Set(built).size === built.length,
      where,
      () => "the same encoder object is given for two inputs; build one encoder per input.",
    );
    const fused = built.reduce((s, e) => s + e.outputSize, 0);
    const inner = build({ ...rest, inputSize: fused } as unknown as O);
    return new NamedInputsModel(inputs, built, inner, decodeReads(inner), options);
  } catch (e) {
    // Encoders this call built are disposed; blocks the caller gave stay theirs when building fails.
    built.forEach((b, j) => b !== encoders[inputs[j].name] && b.dispose());
    throw e;
  }
}

/** Refuses named inputs for an architecture that does not take them, saying which do and why. */
export function refuseNamedInputs(where: string, options: unknown, why: string): void {
  if (hasNamedInputs(options)) {
    throw new MtlError(
      where,
      `named inputs (options 'inputs' and 'encoders') are not supported here: ${why}. ` +
        "Named inputs work with mtl.hardSharing, mtl.mmoe, mtl.cgc and mtl.ple (docs/multimodal.md).",
    );
  }
}
