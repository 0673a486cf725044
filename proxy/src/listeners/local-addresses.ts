// The pod's own addresses, for the destination policy. Read once at start and
// again, at most once a second, when an address is not found: an address
// added after start (a late IPv6 address) is then known within a second,
// while a flood of connections to foreign addresses costs one read a second.
import os from 'node:os';
import { unmapIPv4 } from './destination-policy.ts';

const REFRESH_AFTER_MS = 1000;

export class LocalAddresses {
  private addresses = read();
  private readAt = Date.now();

  has(address: string): boolean {
    if (this.addresses.has(address)) return true;
    const now = Date.now();
    if (now - this.readAt < REFRESH_AFTER_MS) return false;
    this.addresses = read();
    this.readAt = now;
    return this.addresses.has(address);
  }
}

function read(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const entry of list ?? []) out.add(unmapIPv4(entry.address));
  }
  return out;
}
