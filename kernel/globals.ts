/**
 * Declarations of what the kernel puts on `globalThis` for notebook code, fed
 * to the type-checker as a virtual root file (see tslab-hooks.ts). Kept as a
 * string so that these globals never leak into the repository's own types.
 */
export const GLOBALS_DTS = `
type MimeBundle = { [mime: string]: unknown };
interface DisplayOptions {
  /** Tag the output so that it can be updated later (update_display_data). */
  displayId?: string;
  /** Replace the output tagged displayId instead of adding one. */
  update?: boolean;
  /** The value is a MIME bundle already: send it as is. */
  raw?: boolean;
  metadata?: { [key: string]: unknown };
}
interface DisplayHandle {
  readonly displayId: string;
  /** Replace this output with a new value. */
  update(value: unknown, options?: Omit<DisplayOptions, "displayId" | "update">): void;
}
/** Something shown richly: a value with a Symbol.for("Jupyter.display") method. */
interface Displayable { [key: symbol]: () => MimeBundle }
/** Show a value (or a MIME bundle with {raw: true}) as an output of the running cell. */
declare function display(value: unknown, options?: DisplayOptions): void;
/** A new, empty updatable display. */
declare function newDisplay(): DisplayHandle;
declare function html(strings: TemplateStringsArray | string, ...values: unknown[]): Displayable;
declare function md(strings: TemplateStringsArray | string, ...values: unknown[]): Displayable;
declare function latex(strings: TemplateStringsArray | string, ...values: unknown[]): Displayable;
declare function svg(strings: TemplateStringsArray | string, ...values: unknown[]): Displayable;
declare function png(data: Uint8Array | string): Displayable;
declare function jpeg(data: Uint8Array | string): Displayable;
/** Show a value in the notebook's pager (an execute_reply "page" payload). */
declare function page(value: unknown): void;
/** Clear the cell's output (wait: until the next output arrives). */
declare function clearOutput(wait?: boolean): void;
/** Ask the notebook user for a line of text (input_request); null when stdin is not allowed. */
declare function prompt(message?: string, defaultValue?: string): string | null;
interface Comm {
  readonly commId: string;
  readonly targetName: string;
  send(data: unknown): void;
  close(data?: unknown): void;
  onMsg(handler: (data: unknown) => void): void;
  onClose(handler: (data: unknown) => void): void;
}
declare const comms: {
  /** Accept comms the frontend opens on target_name. */
  registerTarget(targetName: string, onOpen: (comm: Comm, data: unknown) => void): void;
  /** Open a comm from the kernel. */
  open(targetName: string, data?: unknown): Comm;
};
`;
