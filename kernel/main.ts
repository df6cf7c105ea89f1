/** Kernel process entry: `mtlkit kernel start --connection-file FILE` (see cli.ts). */
import { Kernel } from "./kernel";
import { readConnectionFile } from "./protocol/connection";

export async function runKernel(connectionFile: string): Promise<void> {
  const info = readConnectionFile(connectionFile);
  const kernel = new Kernel(info);
  await kernel.start();
}
