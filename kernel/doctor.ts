/**
 * `mtlkit doctor`'s text: the report lib/doctor.ts gathers (`mtl.backends.doctor()`), laid out for a terminal.
 * The probing stays in the library, where a notebook can read the same report as data.
 */
import * as path from "node:path";
import type { BackendCheck, DoctorReport } from "../lib/doctor";

const mark = (b: BackendCheck) => (b.works ? "ok " : b.available ? "?? " : "-- ");

/** The doctor's report as the text `mtlkit doctor` prints (`--json` prints the report itself). */
export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(12)}${v}`);
  lines.push("mtlkit doctor");
  row("node", `${r.node.version} (${r.node.platform} ${r.node.arch}) ${r.node.execPath}`);
  row("tfjs", r.tfjsVersion);
  for (const [name, version] of Object.entries(r.packages))
    if (name !== "@tensorflow/tfjs") row("", `${name} ${version ?? "not installed"}`);
  lines.push("backends (best first)");
  for (const b of r.backends) {
    lines.push(
      `  ${mark(b)}${b.name.padEnd(11)}${b.available ? `${b.gpu ? "GPU" : "CPU"}, ${b.reason}${b.check ? `; ${b.check}` : ""}` : b.reason}`,
    );
  }
  row("selected", `${r.best.backend}: ${r.best.device}`);
  row(
    "native",
    r.native.available ? `${r.native.enabled ? "in use" : "built, not in use"}: ${r.native.reason}` : `not available: ${r.native.reason}`,
  );
  lines.push("GPU");
  row("NVIDIA", r.gpu.nvidia.gpus.length ? `${r.gpu.nvidia.gpus.join("; ")} (driver ${r.gpu.nvidia.driver ?? "?"})` : r.gpu.nvidia.note);
  const w = r.gpu.webgpu;
  row("WebGPU", w ? `${w.reason} [probe ${w.ms} ms${w.version ? `, webgpu ${w.version}` : ""}]` : "not probed");
  for (const l of r.gpu.libraries) lines.push(`  ${l.name.padEnd(19)}${l.path ?? "not found"}  (${l.neededBy})`);
  lines.push("Jupyter");
  row("jupyter", r.jupyter.executable ?? "not found on PATH, /usr/bin or /usr/local/bin");
  row("data path", r.jupyter.dataDirs.join(path.delimiter));
  if (r.jupyter.kernelspecs.length === 0) row("kernelspec", "mtlkit not installed in any of those");
  for (const s of r.jupyter.kernelspecs) row("kernelspec", `${s.name} in ${s.dir}${s.ok ? "" : ` (broken: ${s.problem})`}`);
  lines.push(`verdict: ${r.verdict}`);
  if (r.todo.length) {
    lines.push("to do:");
    for (const t of r.todo) lines.push(`  - ${t}`);
  } else {
    lines.push("to do: nothing");
  }
  return lines.join("\n");
}
