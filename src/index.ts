export * from "./common/index.js";
export * from "./format/index.js";
export * from "./reader/index.js";
// The reader's openTape also opens s3:// addresses (the format's opens local files and sources).
export { openTape } from "./reader/index.js";
export * from "./recorder/index.js";
export * from "./s3/index.js";
