// Two requests on one keep-alive connection from inside a network namespace:
//   node keepalive-call.ts HOST PORT FIRST_PATH SECOND_PATH
// Prints `in-flight` once the second request is sent, then one JSON line:
// every byte that came back and whether the connection ended with a FIN or a reset.
import net from 'node:net';

const [host = '', port = '80', first = '/', second = '/'] = process.argv.slice(2);
const socket = net.connect({ host, port: Number(port) });
socket.setEncoding('latin1');
let received = '';
const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
socket.on('connect', () => socket.write(request(first)));
socket.on('data', (chunk: string) => {
  const hadFirst = received.includes('\r\n\r\n');
  received += chunk;
  if (!hadFirst && received.includes('\r\n\r\n')) {
    // The first response is small and arrives in one piece: send the second.
    socket.write(request(second));
    process.stdout.write('in-flight\n');
  }
});
const done = (ended: 'fin' | 'reset') => {
  process.stdout.write(`${JSON.stringify({ received, ended })}\n`);
  socket.destroy();
};
socket.on('end', () => done('fin'));
socket.on('error', () => done('reset'));
