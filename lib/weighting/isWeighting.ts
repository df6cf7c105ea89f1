/** Recognises a weighting value (used by the trainer to refuse anything else with a clear message). */
import { Weighting } from "./types";

export function isWeighting(x: unknown): x is Weighting {
  const w = x as Weighting;
  return (
    !!w &&
    typeof w.name === "string" &&
    typeof w.weigh === "function" &&
    typeof w.bind === "function" &&
    typeof w.state === "function" &&
    typeof w.loadState === "function" &&
    typeof w.variables === "function"
  );
}
