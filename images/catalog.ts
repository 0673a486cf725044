// What goes into each image, and nothing else. An image is a stack of layers;
// images that begin with the same layers (the C library, then Node) share them.
// This file is the one source of truth for the images: there are no Dockerfiles.
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { run } from './command.ts';
import { fetchPackages, unpackPackages } from './debian-packages.ts';
import { packageClosure, sourceClosure } from './module-closure.ts';
import { strippedNode } from './node-runtime.ts';
import type { ImageConfig } from './oci-layout.ts';
import { copyPackage, makeDir, makeSymlink, writeFile, writeSystemFiles } from './staging.ts';

export interface BuildContext {
  repoRoot: string;
  /** package.json's version: the images' version label. */
  version: string;
  /** Downloaded .debs and the stripped Node, kept between builds. */
  cacheDir: string;
}

export interface Layer {
  /** Names the layer in the build's own tags and in the image history. */
  name: string;
  /** Fills `dir` (empty) with the layer's files. */
  stage(dir: string, context: BuildContext): void;
}

export interface ImageDefinition {
  name: string;
  description: string;
  layers: readonly Layer[];
  config: Omit<ImageConfig, 'labels'>;
  /** The version label, when the image holds something else's program. */
  version?: (context: BuildContext) => string;
  /** Why the image cannot be built here, or undefined when it can. */
  unavailable?: (context: BuildContext) => string | undefined;
}

const debs = (context: BuildContext) => join(context.cacheDir, 'debs');

// ── layers ───────────────────────────────────────────────────────────────────

/** What Node links against (`ldd node_modules/node/bin/node`), and the users. */
const glibc: Layer = {
  name: 'glibc',
  stage(dir, context) {
    unpackPackages(fetchPackages(['libc6', 'libgcc-s1', 'libstdc++6'], debs(context)), dir);
    // iconv's character-set modules: Node converts text with its own ICU.
    rmSync(join(dir, 'usr/lib/x86_64-linux-gnu/gconv'), { recursive: true, force: true });
    writeSystemFiles(dir);
  },
};

const node: Layer = {
  name: 'node',
  stage(dir, context) {
    const runtime = strippedNode(context.repoRoot, join(context.cacheDir, 'node'));
    makeDir(dir, 'usr/local/bin');
    copyFileSync(runtime.binary, join(dir, 'usr/local/bin/node'));
  },
};

/** The names Debian's update-alternatives gives the nf_tables variant (priority 20 beats legacy's 10). */
const IPTABLES_ALTERNATIVES = ['iptables', 'iptables-restore', 'iptables-save']
  .flatMap((name) => [name, name.replace('iptables', 'ip6tables')])
  .map((name) => ({ name, variant: name.replace(/^(ip6?tables)/, '$1-nft') }));

/** Both iptables back ends, as src/iptables/backend.ts calls them (iptables-nft-save, ...). */
const iptables: Layer = {
  name: 'iptables',
  stage(dir, context) {
    const packages = [
      'iptables',
      'libip4tc2',
      'libip6tc2',
      'libxtables12',
      'libnftnl11',
      'libmnl0',
      'libnetfilter-conntrack3',
      'libnfnetlink0',
      'netbase',
    ];
    unpackPackages(fetchPackages(packages, debs(context)), dir);
    for (const { name, variant } of IPTABLES_ALTERNATIVES) {
      makeSymlink(dir, `etc/alternatives/${name}`, `/usr/sbin/${variant}`);
      makeSymlink(dir, `usr/sbin/${name}`, `/etc/alternatives/${name}`);
    }
  },
};

/**
 * A program of this repository: the files reachable from its entry point, the
 * npm packages they need, and a package.json that makes `.js` files ES modules.
 */
function program(
  name: string,
  entry: string,
  options: { prune?: readonly string[]; command?: string } = {},
): Layer {
  const prune = options.prune ?? [];
  return {
    name,
    stage(dir, { repoRoot, version }) {
      const sources = sourceClosure(repoRoot, [entry]);
      for (const file of sources.files) {
        makeDir(dir, join('app', file, '..'));
        copyFileSync(join(repoRoot, file), join(dir, 'app', file));
      }
      if (options.command !== undefined) {
        // A command on PATH (e.g. the classic layout's postStart hook runs
        // `outrigger-proxy wait`): the entry itself, its `#!/usr/bin/env node`
        // pointed at the image's node, since there is no env here.
        const staged = join(dir, 'app', entry);
        const text = readFileSync(staged, 'utf8').replace(/^#!.*\n/, '');
        writeFile(dir, join('app', entry), `#!${NODE}\n${text}`, 0o755);
        makeSymlink(dir, join('usr/local/bin', options.command), `/app/${entry}`);
      }
      for (const pkg of packageClosure(repoRoot, sources.packages)) {
        copyPackage(join(repoRoot, pkg), join(dir, 'app', pkg));
      }
      for (const path of prune) rmSync(join(dir, 'app', path), { recursive: true, force: true });
      const manifest = { name: `outrigger-${name}`, version, type: 'module', private: true };
      writeFile(dir, 'app/package.json', `${JSON.stringify(manifest, null, 2)}\n`);
    },
  };
}

const pauseBinary: Layer = {
  name: 'pause',
  stage(dir, { repoRoot, version }) {
    const source = join(repoRoot, 'images/pause/pause.c');
    const binary = join(dir, 'pause');
    run('gcc', [
      '-static',
      '-Os',
      '-s',
      '-Wall',
      `-DPAUSE_VERSION="${version}"`,
      '-o',
      binary,
      source,
    ]);
  },
};

/** CoreDNS as test/e2e/tools/build.sh builds it (a static Go binary). */
export function corednsVersion(repoRoot: string): string {
  const script = readFileSync(join(repoRoot, 'test/e2e/tools/build.sh'), 'utf8');
  const version = script.match(/^COREDNS_VERSION=(\S+)$/m)?.[1];
  if (!version) throw new Error('test/e2e/tools/build.sh does not pin COREDNS_VERSION');
  return version;
}

function corednsBinary(repoRoot: string): string {
  const cache = process.env.OUTRIGGER_TOOLS_CACHE ?? join(homedir(), '.cache', 'outrigger-tools');
  return join(cache, `coredns-${corednsVersion(repoRoot)}`, 'bin', 'coredns');
}

const coredns: Layer = {
  name: 'coredns',
  stage(dir, { repoRoot }) {
    copyFileSync(corednsBinary(repoRoot), join(dir, 'coredns'));
    writeFile(dir, 'etc/nsswitch.conf', 'hosts: files dns\n');
  },
};

// ── images ───────────────────────────────────────────────────────────────────

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NODE = '/usr/local/bin/node';

export const IMAGES: readonly ImageDefinition[] = [
  {
    name: 'injector',
    description: 'Outrigger injector: the mutating admission webhook (outrigger serve)',
    layers: [glibc, node, program('injector', 'dist/src/cli/main.js')],
    config: {
      // Single-threaded GC: the injector's work is one event loop, and V8's parallel
      // GC helpers mostly compete with it for the same CPU; on one core they made
      // p99 latency at 1,000 reviews/s over twice as bad (docs/performance.md).
      // Node refuses this flag in NODE_OPTIONS, hence the entrypoint.
      entrypoint: [NODE, '--single-threaded-gc', '/app/dist/src/cli/main.js'],
      cmd: ['serve'],
      // The chart runs it as 65532 with a read-only root filesystem and /tmp on an emptyDir.
      user: '65532:65532',
      env: {
        PATH,
        NODE_ENV: 'production',
        // A smaller young generation keeps resident memory near 125 MiB under
        // thousands of reviews a second at no measurable cost (docs/performance.md).
        NODE_OPTIONS: '--max-semi-space-size=8',
      },
      exposedPorts: ['8443/tcp'],
      workingDir: '/app',
    },
  },
  {
    name: 'init',
    description:
      'Outrigger init container: programs the pod network namespace (outrigger-iptables)',
    layers: [glibc, node, iptables, program('init', 'dist/src/iptables/main.js')],
    config: {
      entrypoint: [NODE, '/app/dist/src/iptables/main.js'],
      cmd: [],
      // Capabilities alone do not become effective for a non-root user: uid 0 with
      // NET_ADMIN and NET_RAW (the pod spec grants them, nothing more); exits when done.
      user: '0:0',
      env: { PATH, NODE_ENV: 'production' },
      exposedPorts: [],
      workingDir: '/app',
    },
  },
  {
    name: 'proxy',
    description: 'Outrigger sidecar proxy (outrigger-proxy)',
    layers: [
      glibc,
      node,
      // koffi's prebuilt binary for musl: the base is glibc.
      program('proxy', 'dist/proxy/src/main.js', {
        prune: ['node_modules/@koromix/koffi-linux-x64/musl_x64'],
        command: 'outrigger-proxy',
      }),
    ],
    config: {
      entrypoint: [NODE, '/app/dist/proxy/src/main.js'],
      cmd: [],
      // The proxy user, whose traffic the init container's rules never redirect.
      user: '1337:1337',
      env: {
        PATH,
        NODE_ENV: 'production',
        // A small young generation and a capped old one keep a sidecar's resident
        // memory flat under connection churn (docs/proxy.md, "Memory").
        NODE_OPTIONS: '--max-semi-space-size=2 --max-old-space-size=64',
      },
      exposedPorts: ['15001/tcp', '15006/tcp', '15021/tcp', '15090/tcp'],
      workingDir: '/app',
    },
  },
  {
    name: 'pause',
    description: 'Pod sandbox pause process for the local cluster (images/pause/pause.c)',
    layers: [pauseBinary],
    config: {
      entrypoint: ['/pause'],
      cmd: [],
      user: '65535:65535',
      env: {},
      exposedPorts: [],
      workingDir: '/',
    },
  },
  {
    name: 'coredns',
    description: 'CoreDNS for the local cluster, built by test/e2e/tools/build.sh',
    layers: [coredns],
    config: {
      entrypoint: ['/coredns'],
      cmd: [],
      // Port 53 needs CAP_NET_BIND_SERVICE, which only becomes effective for
      // root (file capabilities would need xattrs in the layer).
      user: '0:0',
      env: {},
      exposedPorts: ['53/tcp', '53/udp', '9153/tcp'],
      workingDir: '/',
    },
    version: ({ repoRoot }) => corednsVersion(repoRoot),
    unavailable: ({ repoRoot }) =>
      existsSync(corednsBinary(repoRoot))
        ? undefined
        : `${corednsBinary(repoRoot)} is not built yet (test/e2e/tools/build.sh coredns)`,
  },
  {
    name: 'testapp',
    description: 'httpbin-like test server and client for the node suite (test/node/app)',
    layers: [glibc, node, program('testapp', 'test/node/app/testapp.ts')],
    config: {
      entrypoint: [NODE, '/app/test/node/app/testapp.ts'],
      cmd: ['serve'],
      user: '65532:65532',
      env: { PATH, NODE_ENV: 'production' },
      exposedPorts: ['8080/tcp'],
      workingDir: '/app',
    },
  },
];
