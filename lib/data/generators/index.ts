export { mmoeSynthetic, MmoeSynthetic, MmoeSyntheticOptions } from "./mmoeSynthetic";
export { gradNormToy, GradNormToy, GradNormToyOptions } from "./gradNormToy";
