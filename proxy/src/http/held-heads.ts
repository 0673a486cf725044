// The memory all connections together may hold in partial message heads (a
// head that spans chunks is copied until its end arrives). Each head is
// capped at MAX_HEAD_BYTES; this budget caps their sum, so thousands of
// connections each sending an unterminated head cannot grow the proxy without
// bound: a head that would exceed it is treated like one over the cap, and
// its connection continues as opaque bytes.

/** What the proxy holds in partial heads at most, all connections together. */
export const HELD_HEAD_BUDGET = 8 * 1024 * 1024;

export class HeldHeadBudget {
  private used = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held now. */
  get held(): number {
    return this.used;
  }

  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** For parsers outside the proxy (tests): no budget beyond the per-head cap. */
export const UNBOUNDED_HELD_HEADS = new HeldHeadBudget(Infinity);
