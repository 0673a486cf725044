// `npm run images` for real: every archive is built, names its full reference,
// and runs under runc the way a node would run it (its own entrypoint, user and
// environment), each server inside a throwaway network namespace. Needs root,
// umoci, skopeo, runc and iproute2; skips without them, fails under CI=true.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BuiltImage, readImagesJson } from '../../images/images-json.ts';
import { requirePrerequisites, skipUnless } from '../support/prerequisites.ts';
import { ImageBundle, NetworkNamespace, ThrowawayContainerd } from './containers.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const REGISTRY = 'registry.example.test:5000/outrigger';
const TAG = 'image-test';

function buildImages(out: string, ...flags: string[]): BuiltImage[] {
  execFileSync(
    process.execPath,
    ['images/build.ts', '--registry', REGISTRY, '--tag', TAG, '--out', out, ...flags],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return readImagesJson(out);
}

/** Fetches a URL from inside a network namespace with the pinned node; returns status and body. */
function fetchIn(ns: NetworkNamespace, url: string): { status: number; body: string } {
  const script = `const r = await fetch(${JSON.stringify(url)}); process.stdout.write(JSON.stringify({status: r.status, body: await r.text()}));`;
  return JSON.parse(
    ns.exec('env', [
      'NODE_TLS_REJECT_UNAUTHORIZED=0',
      process.execPath,
      '--no-warnings',
      '--input-type=module',
      '-e',
      script,
    ]),
  );
}

/** A loopback port the kernel just handed out, released for the caller to bind. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function eventually<T>(what: string, attempt: () => T, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const skip = skipUnless('root', 'ip', 'imageTools');

describe('npm run images', { concurrency: false, skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'outrigger-image-test-'));
  const out = join(work, 'images');
  let built: BuiltImage[] = [];
  const bundles = new Map<string, ImageBundle>();
  const bundle = (name: string): ImageBundle => {
    let unpacked = bundles.get(name);
    if (!unpacked) {
      const image = built.find((b) => b.name === name);
      assert.ok(image, `${name} was not built`);
      const dir = join(work, `unpacked-${name}`);
      execFileSync('mkdir', ['-p', dir]);
      unpacked = new ImageBundle(resolve(repoRoot, image.archive), dir);
      bundles.set(name, unpacked);
    }
    return unpacked;
  };
  const ns = new NetworkNamespace(`orimg-${process.pid}`);

  before(() => {
    built = buildImages(out);
  });
  after(() => {
    ns.remove();
    rmSync(work, { recursive: true, force: true });
  });

  it('writes one archive per image, each naming its full reference, listed in images.json', () => {
    const names = built.map((b) => b.name);
    for (const name of ['injector', 'init', 'proxy', 'pause', 'testapp'])
      assert.ok(names.includes(name));
    for (const image of built) {
      assert.equal(image.reference, `${REGISTRY}/${image.name}:${TAG}`);
      const archive = resolve(repoRoot, image.archive);
      assert.equal(statSync(archive).size, image.sizeBytes);
      const index = JSON.parse(
        execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' }),
      ) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
      assert.equal(index.manifests.length, 1);
      assert.equal(index.manifests[0]!.digest, image.digest);
      assert.equal(
        index.manifests[0]!.annotations['org.opencontainers.image.ref.name'],
        image.reference,
      );
    }
  });

  it('imports into containerd under the full reference (ctr -n k8s.io images import)', async (t) => {
    if (!requirePrerequisites(t, 'containerd')) return;
    const dir = join(work, 'containerd');
    execFileSync('mkdir', ['-p', dir]);
    const daemon = new ThrowawayContainerd(dir);
    try {
      for (const image of built) {
        await daemon.ctr(['-n', 'k8s.io', 'images', 'import', resolve(repoRoot, image.archive)]);
      }
      const listed = await daemon.ctr(['-n', 'k8s.io', 'images', 'ls']);
      for (const image of built) {
        assert.match(
          listed,
          new RegExp(`^${image.reference.replace(/[.]/g, '\\.')}\\s+\\S+\\s+${image.digest}`, 'm'),
        );
      }
    } finally {
      await daemon.stop();
    }
  });

  it('loads with podman under the full reference and the same digest', (t) => {
    if (!requirePrerequisites(t, 'podman')) return;
    // Storage of its own, so the machine's podman images are left alone.
    const podman = (...args: string[]) =>
      execFileSync(
        'podman',
        [
          '--root',
          join(work, 'podman/root'),
          '--runroot',
          join(work, 'podman/run'),
          '--storage-driver',
          'vfs',
          ...args,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    for (const name of ['pause', 'proxy']) {
      const image = built.find((b) => b.name === name)!;
      assert.match(
        podman('load', '-i', resolve(repoRoot, image.archive)),
        new RegExp(image.reference.replace(/[.]/g, '\\.')),
      );
      assert.equal(
        podman('image', 'inspect', '--format', '{{.Digest}}', image.reference).trim(),
        image.digest,
      );
    }
  });

  it('pushes to a registry with skopeo copy and keeps its digest there', async (t) => {
    if (!requirePrerequisites(t, 'registry')) return;
    // Debian's docker-registry (the CNCF distribution server) on loopback, with
    // storage of its own: what `skopeo copy ... docker://` does against any registry.
    const port = await freePort();
    const config = join(work, 'registry.yml');
    writeFileSync(
      config,
      [
        'version: 0.1',
        'log: {level: error}',
        `storage: {filesystem: {rootdirectory: ${join(work, 'registry')}}}`,
        `http: {addr: "127.0.0.1:${port}"}`,
        '',
      ].join('\n'),
    );
    const registry = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    try {
      const where = `127.0.0.1:${port}`;
      for (const name of ['proxy', 'init', 'injector']) {
        const image = built.find((b) => b.name === name)!;
        const target = `docker://${where}/outrigger/${name}:${TAG}`;
        await eventually(`skopeo copy ${name}`, () =>
          execFileSync(
            'skopeo',
            [
              'copy',
              '--dest-tls-verify=false',
              `oci-archive:${resolve(repoRoot, image.archive)}`,
              target,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          ),
        );
        const inspected = JSON.parse(
          execFileSync('skopeo', ['inspect', '--tls-verify=false', target], { encoding: 'utf8' }),
        ) as { Digest: string };
        assert.equal(
          inspected.Digest,
          image.digest,
          `${name}: the registry keeps the digest images.json names`,
        );
      }
    } finally {
      registry.kill('SIGTERM');
    }
  });

  it('builds the same digests again (fixed timestamps, sorted files), and --only builds a subset', () => {
    const again = buildImages(join(work, 'again'), '--only', 'pause,proxy');
    assert.deepEqual(
      again.map((b) => b.name),
      ['proxy', 'pause'],
    );
    for (const image of again) {
      assert.equal(image.digest, built.find((b) => b.name === image.name)?.digest);
    }
  });

  it('gives the proxy and init images neither fastify nor the Kubernetes client', () => {
    const modules = (name: string) => join(bundle(name).rootfs, 'app/node_modules');
    for (const name of ['proxy', 'init']) {
      assert.equal(existsSync(join(modules(name), 'fastify')), false, `${name} has fastify`);
      assert.equal(
        existsSync(join(modules(name), '@kubernetes')),
        false,
        `${name} has client-node`,
      );
    }
    assert.ok(existsSync(join(modules('injector'), 'fastify')));
    assert.ok(existsSync(join(modules('injector'), '@kubernetes/client-node')));
    assert.ok(existsSync(join(modules('proxy'), '@koromix/koffi-linux-x64/linux_x64/koffi.node')));
  });

  it('injector: runs as 65532 and answers /healthz over TLS', async () => {
    const injector = bundle('injector');
    assert.deepEqual(injector.process.user, { uid: 65532, gid: 65532 });
    assert.deepEqual(injector.process.args.slice(0, 2), [
      '/usr/local/bin/node',
      '--single-threaded-gc',
    ]);
    assert.ok(injector.process.env.includes('NODE_OPTIONS=--max-semi-space-size=8'));
    const version = await injector.run({ args: (p) => [...p.args.slice(0, 3), '--version'] });
    assert.equal(version.code, 0, version.stderr);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(version.stdout.trim(), pkg.version);
    const server = injector.start({
      netns: ns.name,
      args: (p) => [...p.args.slice(0, 3), 'serve', '--host', '127.0.0.1', '--port', '8443'],
    });
    try {
      const health = await eventually('injector /healthz', () =>
        fetchIn(ns, 'https://127.0.0.1:8443/healthz'),
      );
      assert.equal(health.status, 200);
    } finally {
      server.kill();
      await server.exited;
    }
  });

  it('init: runs as root, has both iptables back ends under their Debian names, and programs a namespace', async () => {
    const init = bundle('init');
    assert.deepEqual(init.process.user, { uid: 0, gid: 0 });
    const caps = ['CAP_NET_ADMIN', 'CAP_NET_RAW'];
    const inNamespace = (...args: string[]) =>
      init.run({ netns: ns.name, capabilities: caps, args: () => args });
    const plain = await inNamespace('iptables', '--version');
    assert.match(
      plain.stdout,
      /nf_tables/,
      'plain iptables is the nf_tables variant, as on Debian',
    );
    for (const binary of ['iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft']) {
      const listed = await inNamespace(binary, '-S');
      assert.equal(listed.code, 0, `${binary}: ${listed.stderr}`);
      assert.match(listed.stdout, /^-P OUTPUT ACCEPT$/m);
    }
    const applied = await init.run({
      netns: ns.name,
      capabilities: caps,
      args: (p) => [
        ...p.args,
        '-p',
        '15001',
        '-z',
        '15006',
        '-u',
        '1337',
        '-g',
        '1337',
        '-b',
        '*',
        '-i',
        '*',
      ],
    });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const saved = await inNamespace('iptables-save', '-t', 'nat');
    assert.match(saved.stdout, /-A OUTPUT -p tcp -j OUTRIGGER/);
    const cleaned = await init.run({
      netns: ns.name,
      capabilities: caps,
      args: (p) => [...p.args, '--cleanup'],
    });
    assert.equal(cleaned.code, 0, cleaned.stderr);
  });

  it('proxy: runs as 1337, loads koffi, reports ready on 15021 and exits 0 on SIGTERM', async () => {
    const proxy = bundle('proxy');
    assert.deepEqual(proxy.process.user, { uid: 1337, gid: 1337 });
    assert.ok(
      proxy.process.env.includes('NODE_OPTIONS=--max-semi-space-size=2 --max-old-space-size=64'),
    );
    const koffi = await proxy.run({
      args: (p) => [
        p.args[0]!,
        '--input-type=module',
        '-e',
        "import { createRequire } from 'node:module'; const koffi = createRequire('/app/dist/proxy/src/main.js')('koffi'); console.log(typeof koffi.load);",
      ],
    });
    assert.equal(koffi.stdout.trim(), 'function', koffi.stderr);
    const running = proxy.start({ netns: ns.name });
    try {
      const ready = await eventually('proxy /healthz/ready', () =>
        fetchIn(ns, 'http://127.0.0.1:15021/healthz/ready'),
      );
      assert.equal(ready.status, 200);
      const stopped = await running.stop('TERM');
      assert.equal(stopped.code, 0, stopped.stderr);
    } finally {
      running.kill();
    }
  });

  it('testapp: serves /get and /status/N, and its own client fetches and checks ports', async () => {
    const app = bundle('testapp');
    assert.notEqual(app.process.user.uid, 0);
    const server = app.start({
      netns: ns.name,
      args: (p) => [...p.args.slice(0, 2), 'serve', '--host', '127.0.0.1', '--port', '8080'],
    });
    try {
      await server.waitForOutput('listening');
      const client = (...args: string[]) =>
        app.run({ netns: ns.name, args: (p) => [...p.args.slice(0, 2), ...args] });
      const got = await client('fetch', 'http://127.0.0.1:8080/get?query=param', '-H', 'x-test: 1');
      assert.equal(got.code, 0, got.stderr);
      const response = JSON.parse(got.stdout);
      assert.equal(response.status, 200);
      const body = JSON.parse(response.body);
      assert.deepEqual(body.args, { query: 'param' });
      assert.equal(body.headers['x-test'], '1');
      const posted = JSON.parse(
        (await client('fetch', 'http://127.0.0.1:8080/post', '-X', 'POST', '-d', 'fifteen-bytes!!'))
          .stdout,
      );
      assert.equal(JSON.parse(posted.body).data, 'fifteen-bytes!!');
      const status = JSON.parse((await client('fetch', 'http://127.0.0.1:8080/status/429')).stdout);
      assert.equal(status.status, 429);
      assert.equal((await client('tcp-check', '127.0.0.1', '8080')).code, 0);
      assert.equal((await client('tcp-check', '127.0.0.1', '8081')).code, 1);
      const stopped = await server.stop('TERM');
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stdout, /"method":"GET","url":"\/get\?query=param","status":200/);
    } finally {
      server.kill();
    }
  });

  it('pause: holds only /pause, runs as 65535 and exits 0 on SIGTERM', async () => {
    const pause = bundle('pause');
    assert.deepEqual(readdirSync(pause.rootfs), ['pause']);
    assert.deepEqual(pause.process.user, { uid: 65535, gid: 65535 });
    const running = pause.start({ netns: ns.name });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = await running.stop('TERM');
    assert.equal(stopped.code, 0, stopped.stderr);
  });

  it('coredns: runs the binary test/e2e/tools/build.sh built', async (t) => {
    if (!built.some((b) => b.name === 'coredns')) {
      return t.skip('CoreDNS is not built yet (test/e2e/tools/build.sh coredns)');
    }
    const version = await bundle('coredns').run({ args: () => ['/coredns', '-version'] });
    assert.equal(version.code, 0, version.stderr);
    const pinned = readFileSync(join(repoRoot, 'test/e2e/tools/build.sh'), 'utf8').match(
      /^COREDNS_VERSION=v(\S+)$/m,
    )?.[1];
    assert.match(version.stdout, new RegExp(`CoreDNS-${pinned?.replace(/\./g, '\\.')}`));
  });
});
