// The remote side of the traffic-policy suite, run in the remote namespace:
//   node policy-peers.ts ADDRESS...
// On every address: a TCP echo on 7000 and 7100, HTTP on 8080 (answers with
// the Host it got), a TLS echo on 8443 (certificate for *.tls.example), a
// server-speaks-first greeting on 2525, and on 9000 a bulk sender that
// reads a byte count line and sends that many random bytes, then prints
// {"bulk": {"bytes", "sha256"}} so the suite can compare what arrived.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import {
  generateCertificateAuthority,
  issueServingCertificate,
} from '../../../src/certs/generate.ts';

const addresses = process.argv.slice(2);
const authority = generateCertificateAuthority({ commonName: 'policy-suite-ca' });
const serving = issueServingCertificate(authority, { dnsNames: ['*.tls.example'] });

function echo(socket: net.Socket): void {
  socket.on('error', () => {});
  socket.pipe(socket);
}

function bulk(socket: net.Socket): void {
  socket.on('error', () => {});
  let line = '';
  socket.on('data', function onData(chunk: Buffer) {
    line += chunk.toString('latin1');
    if (!line.includes('\n')) return;
    socket.off('data', onData);
    let left = Number(line.trim());
    const hash = createHash('sha256');
    const total = left;
    const sendMore = () => {
      while (left > 0) {
        const chunk = randomBytes(Math.min(left, 256 * 1024));
        left -= chunk.length;
        hash.update(chunk);
        if (!socket.write(chunk)) {
          socket.once('drain', sendMore);
          return;
        }
      }
      socket.end(() => {
        process.stdout.write(
          `${JSON.stringify({ bulk: { bytes: total, sha256: hash.digest('hex') } })}\n`,
        );
      });
    };
    sendMore();
  });
}

const servers: Array<[net.Server, number]> = [];
let listening = 0;
for (const address of addresses) {
  servers.push([net.createServer(echo), 7000], [net.createServer(echo), 7100]);
  servers.push([
    http.createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.headers.host}\n`);
    }),
    8080,
  ]);
  servers.push([tls.createServer({ cert: serving.cert, key: serving.key }, echo), 8443]);
  servers.push([
    net.createServer((socket) => {
      socket.on('error', () => {});
      socket.write('220 smtp.example.com ready\r\n');
      socket.pipe(socket);
    }),
    2525,
  ]);
  servers.push([net.createServer(bulk), 9000]);
  for (const [server, port] of servers.slice(-6)) {
    server.listen(port, address, () => {
      if (++listening === addresses.length * 6) process.stdout.write('peers listening\n');
    });
  }
}
