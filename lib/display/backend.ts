/** The display of backendInfo() / useBestBackend(): what runs, then every candidate and why. */
import type { BackendInfo } from "../backend";
import { escapeHtml, MimeBundle, tablesBundle } from "./table";

export function backendBundle(info: BackendInfo): MimeBundle {
  const native = `native kernels: ${info.native.enabled ? "on" : "off"} (${info.native.reason})`;
  const rows = info.candidates.map((c) => [
    c.name === info.backend ? { html: `<b>${escapeHtml(c.name)}</b> ◀`, text: `${c.name} ◀` } : c.name,
    c.available ? "yes" : "no",
    c.gpu ? "GPU" : "CPU",
    c.version ? `${c.package}@${c.version}` : c.package,
    c.reason,
  ]);
  return tablesBundle([
    {
      title: `Backend: ${info.backend} on ${info.device}`,
      headers: ["backend", "available", "device", "package", "why"],
      rows,
      notes: [
        `tfjs ${info.tfjsVersion}; ${native}`,
        ...(info.adapter ? [`WebGPU adapter: ${info.adapter.name}${info.adapter.software ? " (software)" : ""}`] : []),
        ...(info.syncReads ? [] : ["reads are asynchronous here: await t.data() / t.array() instead of dataSync() / arraySync()"]),
      ],
    },
  ]);
}
