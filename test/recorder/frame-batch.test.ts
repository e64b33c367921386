/** The batches a socket thread hands frames to a feed thread in: every frame back, in order, exactly. */
import { describe, expect, it } from "vitest";
import { FrameBatchWriter, readFrames } from "../../src/recorder/frame-batch.js";

type Frame = [number, number, bigint, Buffer];

function readAll(b: { buffer: ArrayBuffer; length: number }): Frame[] {
  const out: Frame[] = [];
  readFrames(b.buffer, b.length, (c, s, t, bytes) => out.push([c, s, t, Buffer.from(bytes)]));
  return out;
}

describe("frame batches", () => {
  it("give back every frame with its connection, socket and receive time, across growth and batches", () => {
    const w = new FrameBatchWriter(64);
    const frames: Frame[] = [
      [0, 1, 1_764_000_000_123_456_789n, Buffer.from('{"e":"depthUpdate"}')],
      [3, 4_000_000_000, -1n, Buffer.alloc(0)],
      [1, 2, 2n ** 63n - 1n, Buffer.from("é€😀 not ASCII")],
      [2, 7, 0n, Buffer.alloc(1000, 0x61)],
    ];
    for (const f of frames) w.add(...f);
    expect(w.frames).toBe(4);
    const first = w.take();
    expect(first.frames).toBe(4);
    expect(readAll(first)).toEqual(frames);
    // The next batch starts empty, in a buffer of its own (the first was handed over).
    expect(w.frames).toBe(0);
    w.add(9, 9, 9n, Buffer.from("next"));
    const second = w.take();
    expect(second.buffer).not.toBe(first.buffer);
    expect(readAll(second)).toEqual([[9, 9, 9n, Buffer.from("next")]]);
  });

  it("refuses a batch cut short instead of reading past its end", () => {
    const w = new FrameBatchWriter();
    w.add(0, 1, 5n, Buffer.from("a frame of some length"));
    const b = w.take();
    expect(() => readAll({ buffer: b.buffer, length: b.length - 3 })).toThrow(/past the end at byte 0/);
    expect(() => readAll({ buffer: b.buffer, length: 10 })).toThrow(/header past the end/);
  });
});
