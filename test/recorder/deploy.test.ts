import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { RECORDER_NODE_FLAGS } from "../../bench/record.js";
import { node22 } from "../support/node22.js";

describe("deploy/Dockerfile", () => {
  it("runs the recorder with the Node flags the benchmark measures, and Node accepts them (ours and the image's 22)", async () => {
    const text = await readFile(new URL("../../deploy/Dockerfile", import.meta.url), "utf8");
    const line = text.split("\n").find((l) => l.startsWith("ENTRYPOINT "));
    const entrypoint = JSON.parse(line!.slice("ENTRYPOINT ".length)) as string[];
    expect(entrypoint).toEqual(["node", ...RECORDER_NODE_FLAGS, "dist/cli/main.js"]);
    for (const node of [process.execPath, node22()]) {
      const run = spawnSync(node, [...RECORDER_NODE_FLAGS, "-e", "0"], { encoding: "utf8" });
      expect(run.stderr, node).toBe("");
      expect(run.status, node).toBe(0);
    }
  });
});

describe("deploy/batch/job-definition.json", () => {
  it("runs a replay command whose options the CLI knows, as an array job of the size it declares", async () => {
    const text = await readFile(new URL("../../deploy/batch/job-definition.json", import.meta.url), "utf8");
    const def = JSON.parse(text) as {
      containerProperties: { command: string[]; environment: { name: string; value: string }[] };
    };
    const [command, ...args] = def.containerProperties.command;
    expect(command).toBe("replay");
    const help = spawnSync(process.execPath, ["dist/cli/main.js", "replay", "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    const flags = args.filter((a) => a.startsWith("--"));
    expect(flags.length).toBeGreaterThan(3);
    for (const flag of flags) expect(help.stdout, flag).toContain(flag);
    const size = def.containerProperties.environment.find((e) => e.name === "AWS_BATCH_JOB_ARRAY_SIZE");
    expect(Number(size?.value)).toBeGreaterThan(1);
  });
});
