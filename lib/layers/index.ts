/**
 * Layers and building blocks for trunks and heads: dense stacks, embeddings, convolutions, pooling,
 * and ready-made encoders for images (`cnnEncoder`) and token sequences (`textEncoder`), plus a
 * per-token head (`positionwiseHead`). Any of them, a `tf.LayersModel` or a function can be a trunk.
 *
 * ```ts
 * const model = mtl.hardSharing({ inputSize: 28 * 28, trunk: mtl.layers.cnnEncoder({ height: 28, width: 28 }), tasks });
 * ```
 * @module
 */
export { Activation } from "./activations";
export { Dense, DenseOptions, Initializer } from "./dense";
export { Block, BlockSpec, FunctionBlockSpec, Mlp, MlpOptions } from "./block";
export { Embedding } from "./embedding";
export { Conv2d, Conv2dOptions } from "./conv2d";
export { maxPool2d, avgPool2d, maskedMaxOverTime, maskedMeanOverTime } from "./pooling";
export { cnnEncoder, CnnEncoder, CnnEncoderOptions } from "./cnnEncoder";
export { textEncoder, TextCnnEncoder, TextEncoderOptions } from "./textEncoder";
export { positionwiseHead, PositionwiseDense, PositionwiseOptions } from "./positionwise";
