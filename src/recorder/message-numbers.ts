/**
 * The numbering of one connection's messages (Coinbase's `sequence_num`): the last number, and the latest messages
 * by number, so that a number at or below the last is told apart as a message received again (the same number and
 * the same text), one that comes late, or a numbering that went back, which must not drop the messages after it.
 */

/** How many of the latest messages are remembered. */
const WINDOW = 1024;
const WINDOW_N = BigInt(WINDOW);
/**
 * Longer frames (snapshots, big batches) are not kept, so that the window holds at most 8 MiB: a repeat of one is
 * taken as numbering gone back, which resyncs.
 */
const MAX_KEPT_CHARS = 8 * 1024;

export class MessageNumbers {
  /** The last number followed; null before the first message. */
  last: bigint | null = null;
  private readonly numbers: (bigint | undefined)[] = new Array(WINDOW);
  private readonly texts: (string | undefined)[] = new Array(WINDOW);

  /**
   * What message `n`, at or below the last, is: `repeat` when received before (its number and text are among the
   * latest remembered), `late` when its number was skipped lately (a message that comes after those following it),
   * `back` otherwise: the numbering went back.
   */
  behind(n: bigint, text: string): "repeat" | "late" | "back" {
    if (this.last === null || this.last - n >= WINDOW_N) return "back";
    const i = Number(n % WINDOW_N);
    if (this.numbers[i] !== n) return "late";
    return this.texts[i] === text ? "repeat" : "back";
  }

  /** Follows message `n`, and remembers it. */
  follow(n: bigint, text: string): void {
    this.last = n;
    const i = Number(n % WINDOW_N);
    this.numbers[i] = n;
    this.texts[i] = text.length <= MAX_KEPT_CHARS ? text : undefined;
  }
}
