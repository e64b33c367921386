export * from "./common/index.js";
export * from "./format/index.js";
export * from "./reader/index.js";
export * from "./recorder/index.js";
