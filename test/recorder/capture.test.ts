import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type CapturedMessage,
  formatCaptureLine,
  messageOfRaw,
  parseCaptureLine,
  rawText,
  readCapture,
} from "../../src/recorder/capture.js";

async function collect(file: string, max?: number): Promise<CapturedMessage[]> {
  const out: CapturedMessage[] = [];
  for await (const m of readCapture(file, max)) out.push(m);
  return out;
}

describe("capture format", () => {
  it("reads the three line forms", () => {
    expect(parseCaptureLine('{"e":"trade"}')).toEqual({ kind: "frame", recvNs: null, text: '{"e":"trade"}' });
    expect(parseCaptureLine("pong")).toEqual({ kind: "frame", recvNs: null, text: "pong" });
    expect(parseCaptureLine('{"recv_ns":"1723161253937085768","frame":"{\\"a\\":1}"}')).toEqual({
      kind: "frame",
      recvNs: 1723161253937085768n,
      text: '{"a":1}',
    });
    expect(parseCaptureLine('{"body":"{}","rest":"/api/v3/depth?symbol=X","recv_ns":"5"}')).toEqual({
      kind: "rest",
      recvNs: 5n,
      path: "/api/v3/depth?symbol=X",
      body: "{}",
    });
  });

  it("round-trips lines and raw records", () => {
    const msgs: CapturedMessage[] = [
      { kind: "frame", recvNs: 1n, text: '{"x":"line\\nbreak"}' },
      { kind: "frame", recvNs: null, text: "pong" },
      { kind: "rest", recvNs: 2n, path: "/p?q=1", body: '{"lastUpdateId":1}' },
    ];
    for (const m of msgs) {
      expect(parseCaptureLine(formatCaptureLine(m))).toEqual(m);
      expect(messageOfRaw(rawText(m), m.recvNs)).toEqual(m);
    }
  });

  it("rejects malformed wrapper lines with the line number", () => {
    expect(() => parseCaptureLine('{"recv_ns":123,"frame":"x"}', "c.jsonl", 7)).toThrow(
      /c\.jsonl: line 7: recv_ns must be a string of decimal digits/,
    );
    expect(() => parseCaptureLine('{"recv_ns":"1","frame":"x","extra":1}', "c.jsonl", 2)).toThrow(
      /nothing else/,
    );
    expect(() => parseCaptureLine('{"recv_ns":"1","rest":"api","body":"{}"}')).toThrow(/starting with "\/"/);
    expect(() => parseCaptureLine('{"recv_ns":"1","frame":5}')).toThrow(/frame must be a string/);
    // A number is shown as written, not rounded to a double.
    expect(() => parseCaptureLine('{"recv_ns":1795825453628002634,"frame":"x"}')).toThrow(
      /got 1795825453628002634$/,
    );
    // A member name written with an escape, holding a value nested too deeply to print: said what it is.
    const deep = `{"recv\\u005fns":${"[".repeat(10_000)}${"]".repeat(10_000)},"frame":"x","y":["recv_ns"]}`;
    expect(() => parseCaptureLine(deep, "c.jsonl", 3)).toThrow(/line 3: recv_ns must be .*, got an array$/);
  });

  it("reads a file across chunk boundaries, CRLF and a last line without newline", async () => {
    const dir = await mkdtemp(join(tmpdir(), "capture-"));
    const file = join(dir, "c.jsonl");
    const long = "x".repeat(3 << 20);
    await writeFile(file, `a\r\n\n${JSON.stringify({ recv_ns: "9", frame: long })}\nlast`);
    const msgs = await collect(file);
    expect(msgs.map((m) => (m.kind === "frame" ? m.text.length : -1))).toEqual([1, long.length, 4]);
    expect(msgs[1]!.recvNs).toBe(9n);
  });

  it("refuses a receive time a tape cannot hold and bytes that are not UTF-8; skips a byte order mark", async () => {
    expect(() => parseCaptureLine('{"recv_ns":"9223372036854775808","frame":"x"}', "c.jsonl", 3)).toThrow(
      /c\.jsonl: line 3: recv_ns 9223372036854775808 is beyond 2\^63 - 1 ns/,
    );
    expect(parseCaptureLine('{"recv_ns":"9223372036854775807","frame":"x"}').recvNs).toBe(2n ** 63n - 1n);
    const dir = await mkdtemp(join(tmpdir(), "capture-"));
    const bom = join(dir, "bom.jsonl");
    await writeFile(bom, `\uFEFF${JSON.stringify({ recv_ns: "5", frame: "x" })}\n`);
    expect(await collect(bom)).toMatchObject([{ kind: "frame", recvNs: 5n, text: "x" }]);
    const latin1 = join(dir, "latin1.jsonl");
    await writeFile(
      latin1,
      Buffer.concat([Buffer.from('ok\n{"s":"ETH'), Buffer.from([0xff]), Buffer.from('USDT"}\n')]),
    );
    await expect(collect(latin1)).rejects.toMatchObject({
      code: "E_TAPE_CAPTURE",
      message: expect.stringMatching(/latin1\.jsonl: line 2: not valid UTF-8/),
    });
  });

  it("refuses a line longer than the limit instead of buffering it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "capture-"));
    const file = join(dir, "c.jsonl");
    await writeFile(file, `ok\n${"y".repeat(5000)}\n`);
    await expect(collect(file, 1000)).rejects.toThrow(/line 2: longer than 1000 bytes/);
    await expect(collect(join(dir, "missing.jsonl"))).rejects.toMatchObject({ code: "E_TAPE_IO" });
  });
});
