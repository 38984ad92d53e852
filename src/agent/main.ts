// fairway-agent entry point. See run.ts.
import { runAgent } from "./run.ts";

process.exitCode = await runAgent(process.argv.slice(2), process.env);
