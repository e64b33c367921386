import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { RECORDER_NODE_FLAGS } from "../../bench/record.js";

describe("deploy/Dockerfile", () => {
  it("runs the recorder with the Node flags the benchmark measures, and Node accepts them", async () => {
    const text = await readFile(new URL("../../deploy/Dockerfile", import.meta.url), "utf8");
    const line = text.split("\n").find((l) => l.startsWith("ENTRYPOINT "));
    const entrypoint = JSON.parse(line!.slice("ENTRYPOINT ".length)) as string[];
    expect(entrypoint).toEqual(["node", ...RECORDER_NODE_FLAGS, "dist/cli/main.js"]);
    const run = spawnSync(process.execPath, [...RECORDER_NODE_FLAGS, "-e", "0"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
  });
});
