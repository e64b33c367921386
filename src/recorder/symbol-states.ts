/**
 * A connector's state per symbol, for the symbols it was asked to record; with an empty selection (offline
 * ingest) every symbol met is taken. One map and one rule, so that every venue treats unknown symbols alike.
 */
export class SymbolStates<T> {
  private readonly map = new Map<string, T>();
  private readonly takeAll: boolean;

  constructor(
    symbols: readonly string[],
    private readonly make: (symbol: string) => T,
  ) {
    for (const s of symbols) this.map.set(s, make(s));
    this.takeAll = symbols.length === 0;
  }

  /** The state of a symbol of the selection (made on first use when every symbol is taken). */
  get(symbol: string): T | undefined {
    let st = this.map.get(symbol);
    if (st === undefined && this.takeAll && symbol !== "") {
      st = this.make(symbol);
      this.map.set(symbol, st);
    }
    return st;
  }

  /**
   * Whether messages of `symbol` are recorded: a symbol of the selection (any, with an empty selection). A venue
   * may send others (a shared channel, a hostile peer): keeping state or buffers for each would grow without bound.
   */
  selected(symbol: string): boolean {
    return this.takeAll ? symbol !== "" : this.map.has(symbol);
  }

  /** The state of a symbol met already, without making one. */
  known(symbol: string): T | undefined {
    return this.map.get(symbol);
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }
}
