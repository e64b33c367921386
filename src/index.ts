export * from "./common/index.js";
export * from "./format/index.js";
export * from "./reader/index.js";
