/**
 * On the real webgpu backend, a synchronous read from user code is an MtlError that names the call
 * and what to await instead, and the awaited read works. Runs where webgpu is under test (an
 * adapter here, or MTLKIT_REQUIRE_WEBGPU=1).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { MtlError } from "../../lib/errors";
import { backendsToTest, setBackend } from "../helpers/backends";

for (const backend of backendsToTest({ webgpu: true }).filter((b) => b === "webgpu")) {
  describe(`[${backend}] synchronous reads`, () => {
    beforeAll(async () => {
      await setBackend(backend);
    });

    // Large enough to be computed on the device (webgpu runs tiny ops on the CPU, where a sync read works).
    const onDevice = () => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));

    it.each([
      ["dataSync", "await t.data()"],
      ["arraySync", "await t.array()"],
      ["bufferSync", "await t.buffer()"],
    ] as const)("t.%s() says to use `%s`", async (call, instead) => {
      const t = onDevice();
      let error: unknown;
      try {
        (t[call] as () => unknown).call(t);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MtlError);
      expect((error as Error).message).toContain(`tensor.${call}() reads synchronously; use \`${instead}\` instead`);
      expect((await t.data())[0]).toBe(64);
      t.dispose();
    });
  });
}
