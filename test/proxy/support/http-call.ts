// One HTTP request from inside a network namespace, printed as JSON:
//   node http-call.ts METHOD URL [BODY]  →  {"status", "headers", "body"}
import http from 'node:http';

const [method = 'GET', url = '', body] = process.argv.slice(2);
const req = http.request(url, { method, agent: false }, (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (c: string) => {
    text += c;
  });
  res.on('end', () => {
    process.stdout.write(
      JSON.stringify({ status: res.statusCode, headers: res.headers, body: text }),
    );
  });
});
req.on('error', (err) => {
  process.stdout.write(JSON.stringify({ error: err.message }));
});
if (body !== undefined) req.setHeader('content-length', Buffer.byteLength(body));
req.end(body);
