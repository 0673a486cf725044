// Read buffers for upstream sockets, reused across connections so that
// connection churn does not allocate (and later collect) one per connection.
// Only a bounded number of free buffers is kept.

export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly size: number;
  private readonly maxFree: number;

  constructor(size: number, maxFree: number) {
    this.size = size;
    this.maxFree = maxFree;
  }

  acquire(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  release(buffer: Buffer): void {
    if (this.free.length < this.maxFree) this.free.push(buffer);
  }
}
