/**
 * `npm run test:quick`: the unit tests, for a contributor's loop (under 2 minutes on a 2-core machine).
 * Left out, and run by the full `npm test` that CI runs: the tutorials, the kernel and runner end to end
 * (real kernels over ZeroMQ, Jupyter's own clients, Chromium), checkpoints killed across processes,
 * 10 000-step runs, the WebGPU adapter tests, the native addon's build, and the docs site build.
 */
import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.mts";

export const SLOW = [
  "test/notebooks/**",
  "test/webgpu/**",
  "test/kernel/{conformance,faults,folder-*,progress-kernel,progress-notebook,protocol-faults,runner,runner-safety}.test.ts",
  "test/reliability/{checkpoint,longrun,faults}.test.ts",
  "test/native/build-script.test.ts",
  "test/api/docs-site.test.ts",
];

export default mergeConfig(base, defineConfig({ test: { exclude: [...(base.test?.exclude ?? []), ...SLOW] } }));
