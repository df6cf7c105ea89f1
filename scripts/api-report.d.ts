/** Types for scripts/api-report.js (a plain Node script, so `npm run api:update` needs no build). */
export interface ApiEntry {
  /** `mtl`, `mtl.tasks`, `mtl.tasks.metrics`, … */
  namespace: string;
  name: string;
  /** namespace, class, function, const, let, enum, interface, type (joined by " + " when several). */
  kind: string;
  /** The declaration the name stands for, as `file:offset`. */
  declaration: string;
  /** Whether it has a doc comment (a namespace: its file's `@module` comment). */
  documented: boolean;
}
export declare function apiEntries(): ApiEntry[];
export declare function apiReport(entries?: ApiEntry[]): string;
export declare const REPORT: string;
