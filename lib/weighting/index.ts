/**
 * Loss-weighting methods, `mtl.weighting.*`: each returns a `Weighting` value for the trainer's
 * `weighting` option, e.g. `new mtl.Trainer({ model, tasks, weighting: mtl.weighting.dwa({ temperature: 2 }) })`.
 * A method of your own implements {@link Weighting}.
 * @module
 */
export { Weighting, WeightingSetup, WeighContext, AfterStepContext, GradientTarget, WeightingState } from "./types";
export { equal, EqualOptions } from "./equal";
export { staticWeights as static, StaticOptions } from "./static";
export { uncertainty, UncertaintyOptions, UncertaintyForm } from "./uncertainty";
export { dwa, DwaOptions } from "./dwa";
export { gradNorm, GradNormOptions, GradNormTerms } from "./gradNorm";
export { rlw, RlwOptions } from "./rlw";
export { gls, GlsOptions } from "./gls";
export { dtp, DtpOptions } from "./dtp";
export { famo, FamoOptions } from "./famo";
export { imtlL, ImtlLOptions } from "./imtlL";
export { stch, StchOptions } from "./stch";
