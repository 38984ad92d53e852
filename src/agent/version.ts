// The agent's version. Kept equal to package.json's by test/unit/agent-modules.test.ts
// (src/ does not import files outside src/).
export const AGENT_VERSION = "0.1.0";
