/** Plumbing shared by the subsystems and the CLI. */
export { formatTime, parseTime, TimeParseError } from "./time.js";
export { writeFully } from "./write-fully.js";
