// The real fairway-agent (src/agent/run.ts: config, logging, socket, modules,
// CNI installer, signals) with the TEST DOUBLE backend as its "endpoint"
// module. Used by test/e2e/cni-agent.test.ts only.
import { runAgent } from "../../../src/agent/run.ts";
import { testEndpointModule } from "./test-backend.ts";

process.exitCode = await runAgent(process.argv.slice(2), process.env, {
  subsystems: [testEndpointModule],
});
