/** Rich displays (HTML table + short text) of mtlkit's results, attached to the objects that carry them. */
export { withDisplay, JUPYTER_DISPLAY } from "./attach";
export { backendBundle } from "./backend";
export { checkpointsBundle } from "./checkpoints";
export { deltaMBundle, deltaMOverSeedsBundle, negativeTransferBundle } from "./comparison";
export { evaluationBundle } from "./evaluation";
export { historyBundle, sparkline } from "./history";
export { modelBundle } from "./model";
export { escapeHtml, fmt, htmlTable, textTable, TEXT_ROWS, TEXT_WIDTH } from "./table";
export type { Cell, MimeBundle, Table } from "./table";
