// The idle timeout of every proxied connection, checked by one coarse timer.
// A socket timeout (socket.setTimeout) is refreshed on every read, write and
// write completion: several timer re-inserts for every small request, on
// both sockets. Here the data path only sets a flag; a timer running every
// timeout/TICKS_PER_TIMEOUT counts the ticks a connection has gone without it
// and cuts the connection after TICKS_PER_TIMEOUT of them. A connection is
// therefore cut between one and 1 + 1/TICKS_PER_TIMEOUT timeouts after its
// last activity, never before.

/** A connection as the idle timer sees it. */
export interface IdleWatched {
  /** Set by the data path on every read and completed write; cleared by the timer. */
  active: boolean;
  /** Consecutive ticks without activity. */
  idleTicks: number;
  /** Called once the connection has been idle for the whole timeout. */
  idleTimedOut(): void;
}

const TICKS_PER_TIMEOUT = 8;

export class IdleTimeout {
  private readonly watched = new Set<IdleWatched>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;

  /** `timeoutMs` 0 disables the timeout. */
  constructor(timeoutMs: number) {
    this.tickMs = timeoutMs > 0 ? Math.max(1, Math.ceil(timeoutMs / TICKS_PER_TIMEOUT)) : 0;
  }

  watch(connection: IdleWatched): void {
    if (this.tickMs === 0) return;
    connection.active = false;
    connection.idleTicks = 0;
    this.watched.add(connection);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      // The timer alone must not keep the process alive.
      this.timer.unref();
    }
  }

  unwatch(connection: IdleWatched): void {
    this.watched.delete(connection);
    if (this.watched.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    for (const connection of this.watched) {
      if (connection.active) {
        connection.active = false;
        connection.idleTicks = 0;
      } else if (++connection.idleTicks >= TICKS_PER_TIMEOUT) {
        this.unwatch(connection);
        connection.idleTimedOut();
      }
    }
  }
}
