// Entry point of the pod server when it runs as its own file (source tree:
// compiled once by runner.ts into <stateDir>/bin/fairway-pod.mjs).
import { main } from "./server.ts";

main(process.argv.slice(2));
