/**
 * A Keras-like summary of a multi-task model: its layers grouped by part (the
 * shared parameters θ_s, then each task's θ_i), their variables' shapes and
 * parameter counts, with totals shared and per task.
 */
import type { MultiTaskModel } from "../architectures/types";
import { describeInputs } from "../data/inputs";
import { count, MimeBundle, tablesBundle } from "./table";
import type { Cell } from "./table";

interface Layer {
  name: string;
  shapes: string[];
  params: number;
}

/** Variables named "trunk.0.kernel", "trunk.0.bias" (or with "/") form the layer "trunk.0". */
function layersOf(vars: Array<[string, { shape: number[]; size: number }]>): Layer[] {
  const out = new Map<string, Layer>();
  for (const [name, v] of vars) {
    const cut = Math.max(name.lastIndexOf("/"), name.lastIndexOf("."));
    const layer = cut > 0 ? name.slice(0, cut) : name;
    const leaf = cut > 0 ? name.slice(cut + 1) : "";
    const l = out.get(layer) ?? { name: layer, shapes: [], params: 0 };
    l.shapes.push(`${leaf ? leaf + " " : ""}[${v.shape.join("×")}]`);
    l.params += v.size;
    out.set(layer, l);
  }
  return [...out.values()];
}

export function modelBundle(model: MultiTaskModel): MimeBundle {
  const counts = model.parameterCounts();
  const parts: Array<{ part: string; layers: Layer[]; total: number }> = [
    { part: "shared", layers: layersOf(model.sharedVariables()), total: counts.shared },
    ...model.taskNames.map((t, i) => ({ part: `task ${t}`, layers: layersOf(model.taskVariables(i)), total: counts.perTask[t] })),
  ];
  const rows: Cell[][] = [];
  for (const p of parts) {
    p.layers.forEach((l, i) => rows.push([i === 0 ? p.part : "", l.name, l.shapes.join(", "), count(l.params)]));
    if (p.layers.length === 0) rows.push([p.part, "(none)", "", "0"]);
  }
  const flops = model.flopsPerExample();
  const perTask = model.taskNames.map((t) => `${t} ${count(counts.perTask[t])}`).join(", ");
  return tablesBundle([
    {
      title: `${model.architecture} model: ${model.inputs ? `inputs ${describeInputs(model.inputs)}` : `${model.inputSize} inputs`} → ${model.taskNames.length} tasks (${model.taskNames.join(", ")})`,
      headers: ["part", "layer", "variables", "parameters"],
      rows,
      numeric: [false, false, false, true],
      notes: [
        `Parameters: ${count(counts.total)} total = ${count(counts.shared)} shared + per task ${perTask}` +
          (flops !== undefined ? `; forward ${count(Math.round(flops))} FLOPs per example` : ""),
      ],
    },
  ]);
}
