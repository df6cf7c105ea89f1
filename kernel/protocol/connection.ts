/** Connection files: what a kernel binds to and the key its messages are signed with. */
import * as fs from "fs";
import * as net from "net";
import { randomUUID } from "crypto";
import { writeFileAtomic } from "../fsutil";

export interface ConnectionInfo {
  transport: "tcp";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export const CHANNELS = ["shell", "iopub", "stdin", "control", "hb"] as const;
export type Channel = (typeof CHANNELS)[number];

export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionError";
  }
}

/** True for 127.0.0.0/8, ::1 and "localhost". */
export function isLoopback(ip: string): boolean {
  return ip === "localhost" || ip === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const host = info.ip.includes(":") ? `[${info.ip}]` : info.ip;
  return `tcp://${host}:${info[`${channel}_port`]}`;
}

/** Read and validate a connection file; only loopback TCP addresses are accepted. */
export function readConnectionFile(file: string): ConnectionInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConnectionError(`cannot read connection file ${file}: ${(e as Error).message}`);
  }
  const info = raw as Partial<ConnectionInfo>;
  if ((info.transport ?? "tcp") !== "tcp") {
    throw new ConnectionError(`connection file ${file}: transport "${info.transport}" is not supported (only tcp)`);
  }
  if (typeof info.ip !== "string" || !isLoopback(info.ip)) {
    throw new ConnectionError(`connection file ${file}: ip "${info.ip}" is not a loopback address; mtlkit only listens on 127.0.0.1/::1`);
  }
  for (const c of CHANNELS) {
    const port = (info as Record<string, unknown>)[`${c}_port`];
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new ConnectionError(`connection file ${file}: ${c}_port is missing or invalid (${String(port)})`);
    }
  }
  return {
    transport: "tcp",
    ip: info.ip,
    shell_port: info.shell_port!,
    iopub_port: info.iopub_port!,
    stdin_port: info.stdin_port!,
    control_port: info.control_port!,
    hb_port: info.hb_port!,
    key: typeof info.key === "string" ? info.key : "",
    signature_scheme: typeof info.signature_scheme === "string" ? info.signature_scheme : "hmac-sha256",
    kernel_name: info.kernel_name,
  };
}

async function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, ip, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Fresh connection info on loopback with five free ports and a random key. */
export async function newConnectionInfo(kernelName?: string, ip = "127.0.0.1"): Promise<ConnectionInfo> {
  const ports = new Set<number>();
  while (ports.size < CHANNELS.length) ports.add(await freePort(ip));
  const [shell, iopub, stdin, control, hb] = [...ports];
  return {
    transport: "tcp",
    ip,
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key: randomUUID(),
    signature_scheme: "hmac-sha256",
    kernel_name: kernelName,
  };
}

/** Write a connection file readable by its owner only (0600), atomically. */
export function writeConnectionFile(file: string, info: ConnectionInfo): void {
  writeFileAtomic(file, JSON.stringify(info, null, 1), 0o600);
}
