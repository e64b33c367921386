export * from "./format/index.js";
export * from "./common/index.js";
