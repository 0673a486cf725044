// The SO_ORIGINAL_DST reader without iptables: the koffi binding loads and is
// callable, a socket with no NAT record yields no destination, addresses are
// printed canonically, and the loop guard refuses the proxy's own listeners.
// (A real REDIRECT is exercised by namespace.test.ts.)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, test } from 'node:test';
import { isProxyItself, routeFor } from '../../proxy/src/listeners/destination-policy.ts';
import {
  formatIPv6,
  isNativeIPv6,
  originalDestinationOfFd,
  socketFd,
} from '../../proxy/src/original-destination.ts';

describe('originalDestinationOfFd', () => {
  test('returns undefined for a connection nobody redirected', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const [socket] = (await accepted) as [net.Socket];
    const fd = socketFd(socket);
    assert.equal(typeof fd, 'number');
    assert.equal(originalDestinationOfFd(fd!, false), undefined);
    assert.equal(originalDestinationOfFd(fd!, true), undefined);
    client.destroy();
    socket.destroy();
    server.close();
  });
});

describe('address handling', () => {
  test('IPv6 text follows RFC 5952', () => {
    const bytes = (groups: number[]) => {
      const b = Buffer.alloc(16);
      for (const [i, g] of groups.entries()) b.writeUInt16BE(g, i * 2);
      return b;
    };
    assert.equal(formatIPv6(bytes([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), 0), '2001:db8::1');
    assert.equal(formatIPv6(bytes([0, 0, 0, 0, 0, 0, 0, 1]), 0), '::1');
    assert.equal(formatIPv6(bytes([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]), 0), '2001:db8:0:1::1');
    assert.equal(formatIPv6(bytes([1, 2, 3, 4, 5, 6, 7, 8]), 0), '1:2:3:4:5:6:7:8');
  });

  test('IPv4-mapped sockets use the IPv4 call', () => {
    assert.equal(isNativeIPv6('::ffff:192.0.2.1'), false);
    assert.equal(isNativeIPv6('192.0.2.1'), false);
    assert.equal(isNativeIPv6('2001:db8::1'), true);
  });
});

describe('routeFor', () => {
  const context = {
    capturePorts: [15006, 15001],
    localAddresses: new Set(['192.0.2.10', '2001:db8::10', '127.0.0.1', '::1']),
    destinationFromKernel: true,
  };

  test('inbound goes to the pod address and port it was sent to, never to loopback', () => {
    assert.deepEqual(
      routeFor(
        'inbound',
        { address: '192.0.2.10', port: 80, family: 4 },
        '::ffff:192.0.2.10',
        context,
      ),
      { host: '192.0.2.10', port: 80 },
    );
    assert.deepEqual(
      routeFor(
        'inbound',
        { address: '2001:db8::10', port: 80, family: 6 },
        '2001:db8::10',
        context,
      ),
      { host: '2001:db8::10', port: 80 },
    );
  });

  test('inbound to loopback, an unspecified or a foreign address is refused', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '0.0.0.0', '::', '203.0.113.9']) {
      assert.deepEqual(
        routeFor('inbound', { address, port: 9999, family: 4 }, '192.0.2.10', context),
        { refused: 'not_pod_address' },
        address,
      );
    }
  });

  test('a fixed destination (tests, --fixed-destination) is trusted as given', () => {
    assert.deepEqual(
      routeFor('inbound', { address: '127.0.0.1', port: 8080, family: 4 }, '127.0.0.1', {
        ...context,
        destinationFromKernel: false,
      }),
      { host: '127.0.0.1', port: 8080 },
    );
  });

  test('outbound goes to the original address', () => {
    assert.deepEqual(
      routeFor(
        'outbound',
        { address: '198.51.100.20', port: 443, family: 4 },
        '192.0.2.10',
        context,
      ),
      {
        host: '198.51.100.20',
        port: 443,
      },
    );
  });

  test("the proxy's own listeners are refused", () => {
    for (const address of ['127.0.0.1', '192.0.2.10', '::ffff:192.0.2.10', '::1', '0.0.0.0']) {
      assert.ok(isProxyItself({ address, port: 15001, family: 4 }, '192.0.2.10', context), address);
    }
    assert.ok(
      !isProxyItself({ address: '198.51.100.20', port: 15001, family: 4 }, '192.0.2.10', context),
    );
    assert.deepEqual(
      routeFor(
        'outbound',
        { address: '192.0.2.10', port: 15006, family: 4 },
        '192.0.2.10',
        context,
      ),
      {
        refused: 'loop_refused',
      },
    );
  });
});
