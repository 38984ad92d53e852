// fairway-cni entry point. Kept tiny: node built-ins only, so the bundle is one
// small file that starts fast (it runs once per pod operation).
import { readFileSync } from "node:fs";
import { runPlugin } from "../base/cni/plugin.ts";

async function readStdin(): Promise<Buffer> {
  try {
    return readFileSync(0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A non-blocking stdin (parent's choice) cannot be read synchronously.
    if (code !== "EAGAIN") throw err;
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}

process.exitCode = await runPlugin({
  env: process.env,
  readStdin,
  write: (text) => {
    if (text) process.stdout.write(text);
  },
});
