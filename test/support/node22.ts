/** The Node 22 binary of the `node` devDependency: what the S3 emulator and deploy/Dockerfile run on. */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export function node22(): string {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("node/package.json")), "bin", "node");
  if (!existsSync(bin)) throw new Error(`no Node 22 binary at ${bin}: run npm install`);
  return bin;
}
