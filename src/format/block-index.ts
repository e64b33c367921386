/**
 * The writer's index of the blocks it has written, for the footer: a row of typed arrays per block instead of an
 * object, so that a busy hour (hundreds of thousands of blocks) costs about 50 bytes a block and nothing for the
 * garbage collector to trace. Headers are made on demand, one at a time.
 */
import type { BlockHeader } from "./block.js";
import { grow } from "./builders.js";
import { KIND_BY_ID } from "./records.js";

const START = 256;

export class BlockIndex implements Iterable<BlockHeader> {
  /** Blocks in the index. */
  length = 0;
  /** Blocks of records (checkpoints and kinds this version does not know aside). */
  recordBlocks = 0;
  private offset = new Float64Array(START);
  private size = new Uint32Array(START);
  private symbolId = new Uint32Array(START);
  private kindId = new Uint8Array(START);
  private codecId = new Uint8Array(START);
  private flags = new Uint8Array(START);
  private rowCount = new Uint32Array(START);
  private rawLength = new Uint32Array(START);
  private headerLength = new Uint32Array(START);
  private minTs = new BigInt64Array(START);
  private maxTs = new BigInt64Array(START);

  /** `symbols`: the writer's symbol dictionary, by id (it grows; ids never change). */
  constructor(private readonly symbols: readonly string[]) {}

  push(h: BlockHeader): void {
    const i = this.length;
    if (i === this.offset.length) {
      const n = i + 1;
      this.offset = grow(this.offset, n);
      this.size = grow(this.size, n);
      this.symbolId = grow(this.symbolId, n);
      this.kindId = grow(this.kindId, n);
      this.codecId = grow(this.codecId, n);
      this.flags = grow(this.flags, n);
      this.rowCount = grow(this.rowCount, n);
      this.rawLength = grow(this.rawLength, n);
      this.headerLength = grow(this.headerLength, n);
      this.minTs = grow(this.minTs, n);
      this.maxTs = grow(this.maxTs, n);
    }
    this.offset[i] = h.offset;
    this.size[i] = h.length;
    this.symbolId[i] = h.symbolId;
    this.kindId[i] = h.kindId;
    this.codecId[i] = h.codecId;
    this.flags[i] = h.flags;
    this.rowCount[i] = h.rowCount;
    this.rawLength[i] = h.rawLength;
    this.headerLength[i] = h.headerLength;
    this.minTs[i] = h.minTs;
    this.maxTs[i] = h.maxTs;
    this.length = i + 1;
    if (h.kind !== null) this.recordBlocks++;
  }

  /** The header of block `i` (a new object each call). */
  at(i: number): BlockHeader {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`block ${i} of ${this.length}`);
    const symbolId = this.symbolId[i]!;
    const kindId = this.kindId[i]!;
    return {
      offset: this.offset[i]!,
      length: this.size[i]!,
      kind: KIND_BY_ID.get(kindId) ?? null,
      kindId,
      codecId: this.codecId[i]!,
      flags: this.flags[i]!,
      symbolId,
      symbol: this.symbols[symbolId]!,
      rowCount: this.rowCount[i]!,
      rawLength: this.rawLength[i]!,
      minTs: this.minTs[i]!,
      maxTs: this.maxTs[i]!,
      headerLength: this.headerLength[i]!,
    };
  }

  *[Symbol.iterator](): Iterator<BlockHeader> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toArray(): BlockHeader[] {
    return Array.from(this);
  }
}
