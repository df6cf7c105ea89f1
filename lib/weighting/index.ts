/**
 * Loss-weighting methods, `mtl.weighting.*`: each returns a `Weighting` value for the trainer's
 * `weighting` option, e.g. `new mtl.Trainer({ model, tasks, weighting: mtl.weighting.dwa({ temperature: 2 }) })`.
 */
export { Weighting, WeightingSetup, WeighContext, AfterStepContext, GradientTarget, WeightingState } from "./types";
export { equal, EqualOptions } from "./equal";
export { staticWeights, staticWeights as static, StaticOptions } from "./static";
export { uncertainty, UncertaintyOptions, UncertaintyForm } from "./uncertainty";
export { dwa, dwaWeights, DwaOptions } from "./dwa";
export { gradNorm, gradNormTerms, GradNormOptions, GradNormTerms } from "./gradNorm";
export { rlw, RlwOptions } from "./rlw";
export { gls, glsWeights, GlsOptions } from "./gls";
export { dtp, dtpWeight, DtpOptions } from "./dtp";
export { famo, famoWeights, famoLogitGradient, FamoOptions } from "./famo";
export { imtlL, ImtlLOptions } from "./imtlL";
export { stch, stchWeights, StchOptions } from "./stch";
export { isWeighting } from "./isWeighting";
