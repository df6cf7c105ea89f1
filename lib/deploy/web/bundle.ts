/**
 * Bundles ./runtime (mtlkit's own model, task and prediction code) into one browser script with
 * esbuild. The bundle leaves TensorFlow.js out and uses the page's global `tf` (tf.min.js), and
 * replaces the few Node-only modules the model code reaches with browser stand-ins:
 * - `util` (only `inspect.custom`, for Node's console display of models);
 * - mtlkit's native kernels (OpenBLAS and wasm training kernels: the page predicts on tfjs's own
 *   cpu or webgl kernels, and trains nothing);
 * - the saving code (`model.save` needs a file system; in the page it says so).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MtlError } from "../../errors";

/** The global name the bundle defines in the page. */
export const RUNTIME_GLOBAL = "mtlkitWeb";

/**
 * Browser stand-ins by import path. A stand-in that imports mtlkit's own modules names the folder
 * they resolve from (`resolveDir`, lib/ here; esbuild bundles them like the runtime's own imports).
 */
const STUBS: Array<{ filter: RegExp; contents: string; resolveDir?: string }> = [
  { filter: /^@tensorflow\/tfjs$/, contents: "module.exports = globalThis.tf;" },
  { filter: /^(node:)?util$/, contents: "module.exports = { inspect: { custom: Symbol.for('nodejs.util.inspect.custom') } };" },
  { filter: /\/native\/kernels$/, contents: "module.exports = { nativeMatMulActive: () => false };" },
  { filter: /\/native\/wasmKernels$/, contents: "module.exports = {};" },
  {
    filter: /\/deploy\/save$/,
    contents:
      "const { MtlError } = require('./errors');\n" +
      "module.exports = { saveModel: () => { throw new MtlError('model.save', 'it needs Node (a file system); it is not available in the browser.'); } };",
    resolveDir: join(__dirname, "..", ".."),
  },
];

/** The runtime's entry file: the TypeScript source under vitest, the compiled file from dist. */
function entryPoint(): string {
  const path = join(__dirname, __filename.endsWith(".ts") ? "runtime.ts" : "runtime.js");
  if (!existsSync(path)) throw new MtlError("exportWeb", `the browser runtime ${path} is missing.`);
  return path;
}

/** Builds the browser bundle and returns its source (an IIFE that defines `mtlkitWeb`). */
export async function buildRuntimeBundle(): Promise<string> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = require("esbuild") as typeof import("esbuild");
  } catch (e) {
    throw new MtlError(
      "exportWeb",
      `esbuild, which bundles the page's script, could not be loaded (${(e as Error).message}); reinstall mtlkit's dependencies.`,
    );
  }
  const result = await esbuild.build({
    entryPoints: [entryPoint()],
    bundle: true,
    write: false,
    format: "iife",
    globalName: RUNTIME_GLOBAL,
    platform: "browser",
    target: "es2020",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    plugins: [
      {
        name: "mtlkit-browser-stubs",
        setup(build) {
          for (const [i, stub] of STUBS.entries()) {
            build.onResolve({ filter: stub.filter }, () => ({ path: String(i), namespace: "mtlkit-stub" }));
          }
          build.onLoad({ filter: /.*/, namespace: "mtlkit-stub" }, (args) => {
            const { contents, resolveDir } = STUBS[Number(args.path)];
            return { contents, resolveDir, loader: "js" };
          });
          // Anything else from outside mtlkit would need Node: fail loudly rather than ship a broken page.
          build.onResolve({ filter: /^[^./]/ }, (args) => ({
            errors: [{ text: `the browser runtime imports '${args.path}' (from ${args.importer}), which has no browser stand-in` }],
          }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}
