export * from "./common/index.js";
export * from "./format/index.js";
