// `outrigger selftest-app`: the app container of the selftest's throwaway pod.
// It answers every HTTP request with 200 on --port (the kubelet's readiness
// probe reaches it through the sidecar) and exits on SIGTERM. Plain node:http:
// there is nothing to route, and it runs from the injector image, so nothing
// else has to be pulled.
import { createServer } from 'node:http';

export async function serveSelftestApp(port: number): Promise<void> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' }).end('outrigger selftest app\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, resolve);
  });
  process.stdout.write(`outrigger selftest app listening on :${port}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.closeAllConnections();
      server.close(() => resolve());
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
