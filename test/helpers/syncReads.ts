/**
 * Makes every synchronous tensor read throw, as on a backend that reads only asynchronously
 * (WebGPU): Tensor.dataSync / arraySync / bufferSync and the backend's readSync. The backend's own
 * asynchronous `read` may still use readSync inside (tfjs-backend-cpu does), so only a readSync
 * that does not come from `read` is refused. Returns the function that puts everything back.
 */
import * as tf from "@tensorflow/tfjs";

export function trapSyncReads(): () => void {
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const saved: Record<string, unknown> = {};
  for (const name of ["dataSync", "arraySync", "bufferSync"]) {
    saved[name] = proto[name];
    proto[name] = () => {
      throw new Error(`synchronous read: Tensor.${name}() on the training path`);
    };
  }
  const backend = tf.backend() as unknown as { read(id: unknown): Promise<unknown>; readSync(id: unknown): unknown };
  const read = backend.read;
  const readSync = backend.readSync;
  let inRead = 0;
  backend.read = function (id: unknown) {
    inRead++;
    try {
      return read.call(this, id);
    } finally {
      inRead--;
    }
  };
  backend.readSync = function (id: unknown) {
    if (inRead === 0) throw new Error("synchronous read: backend.readSync() on the training path");
    return readSync.call(this, id);
  };
  return () => {
    for (const [name, fn] of Object.entries(saved)) proto[name] = fn;
    backend.read = read;
    backend.readSync = readSync;
  };
}
