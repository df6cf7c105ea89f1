/**
 * Test doubles for backends this machine does not have: a backend registered under another name
 * ("tensorflow", "webgpu") that computes with tfjs's cpu kernels, so selection, initialisation and
 * training can be exercised end to end.
 */
import * as tf from "@tensorflow/tfjs";
import { loaders, restoreLoaders } from "../../lib/backends/loaders";
import { resetBackendProbes } from "../../lib/backend";
import { resetWebGpuProbe } from "../../lib/backends/webgpu";

const cloned = new Set<string>();

/** Registers `name` as a copy of the cpu backend (its kernels included). */
export function registerCpuClone(name: string, init: () => void = () => {}): void {
  // The cpu backend initialises synchronously: it is registered once setBackend returns.
  if (!tf.findBackend("cpu")) void tf.setBackend("cpu");
  const cpu = tf.findBackend("cpu");
  const Cpu = Object.getPrototypeOf(cpu).constructor as new () => tf.KernelBackend;
  tf.registerBackend(name, () => {
    init();
    return new Cpu();
  });
  for (const kernel of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...kernel, backendName: name });
  cloned.add(name);
}

export function removeClones(): void {
  for (const name of cloned) {
    for (const kernel of tf.getKernelsForBackend(name)) tf.unregisterKernel(kernel.kernelName, name);
    if (tf.findBackendFactory(name)) tf.removeBackend(name);
  }
  cloned.clear();
}

type Fake = (id: string, real: (id: string) => unknown) => unknown;

/** Routes loaders.require through `fake`, which can answer, throw, or defer to the real require. */
export function fakeRequire(fake: Fake): void {
  const real = loaders.require;
  loaders.require = (id: string) => fake(id, real);
}

export const NOT_FOUND = (id: string) => Object.assign(new Error(`Cannot find module '${id}'`), { code: "MODULE_NOT_FOUND" });

/** Puts everything back: loaders, clones, cached probes, env, backend. */
export async function resetAll(): Promise<void> {
  restoreLoaders();
  removeClones();
  resetBackendProbes();
  resetWebGpuProbe();
  delete process.env.MTLKIT_BACKEND;
  delete process.env.MTLKIT_DAWN_PATH;
  delete process.env.FAKE_DAWN_MODE;
  delete (globalThis as { navigator?: unknown }).navigator;
  await tf.setBackend("cpu");
}
