// Runs a built image for real, the way a node would: the archive is copied
// into an OCI layout (skopeo), unpacked into a runtime bundle whose
// config.json umoci derives from the image's own config (entrypoint, user,
// env, working directory), and started with runc, optionally inside a network
// namespace made with `ip netns add`. Nothing here touches the host's network.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The parts of an OCI runtime config these tests change. */
interface RuntimeConfig {
  root: { path: string; readonly?: boolean };
  process: {
    terminal: boolean;
    args: string[];
    env: string[];
    user: { uid: number; gid: number };
    capabilities?: Record<string, string[]>;
  };
  linux: { namespaces: Array<{ type: string; path?: string }> };
}

export interface RunOptions {
  /** Replaces the image's entrypoint and cmd (the image's defaults when absent). */
  args?: (config: RuntimeConfig['process']) => string[];
  /** `ip netns add` name to join instead of a fresh network namespace. */
  netns?: string;
  /** Extra capabilities, e.g. CAP_NET_ADMIN for the init container. */
  capabilities?: string[];
}

const sh = (file: string, args: readonly string[]) =>
  execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let containers = 0;

export class ImageBundle {
  readonly rootfs: string;
  readonly #work: string;
  readonly #config: RuntimeConfig;

  /** Unpacks `archive` under `work` (a fresh directory). */
  constructor(archive: string, work: string) {
    this.#work = work;
    sh('skopeo', [
      'copy',
      '--quiet',
      `oci-archive:${archive}`,
      `oci:${join(work, 'layout')}:image`,
    ]);
    sh('umoci', ['unpack', '--image', `${join(work, 'layout')}:image`, join(work, 'bundle')]);
    this.rootfs = join(work, 'bundle', 'rootfs');
    this.#config = JSON.parse(readFileSync(join(work, 'bundle', 'config.json'), 'utf8'));
  }

  /** The runtime config umoci derived from the image config. */
  get process(): Readonly<RuntimeConfig['process']> {
    return this.#config.process;
  }

  /** Starts a container; stdout and stderr are collected. */
  start(options: RunOptions = {}): RunningContainer {
    const id = `outrigger-image-test-${process.pid}-${++containers}`;
    const config = structuredClone(this.#config);
    config.root = { path: this.rootfs, readonly: false };
    config.process.terminal = false;
    if (options.args) config.process.args = options.args(config.process);
    if (options.capabilities) {
      const caps = config.process.capabilities ?? {};
      for (const set of ['bounding', 'effective', 'permitted']) {
        caps[set] = [...(caps[set] ?? []), ...options.capabilities];
      }
      config.process.capabilities = caps;
    }
    if (options.netns) {
      config.linux.namespaces = config.linux.namespaces.map((ns) =>
        ns.type === 'network' ? { type: 'network', path: `/run/netns/${options.netns}` } : ns,
      );
    }
    const bundle = join(this.#work, id);
    mkdirSync(bundle);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
    const state = join(this.#work, 'runc');
    return new RunningContainer(id, state, bundle);
  }

  /** Runs a container to completion. */
  run(options: RunOptions = {}): Promise<RunResult> {
    return this.start(options).exited;
  }
}

export class RunningContainer {
  readonly exited: Promise<RunResult>;
  readonly #id: string;
  readonly #state: string;
  readonly #child: ChildProcess;
  #stdout = '';

  constructor(id: string, state: string, bundle: string) {
    this.#id = id;
    this.#state = state;
    this.#child = spawn('runc', ['--root', state, 'run', '--bundle', bundle, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    this.#child.stdout?.on('data', (chunk: Buffer) => {
      this.#stdout += chunk.toString();
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => {
      this.#child.on('close', (code) => resolve({ code, stdout: this.#stdout, stderr }));
    });
  }

  /** Resolves once stdout contains `text` (a server saying it listens); rejects after `ms`. */
  async waitForOutput(text: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`${this.#id}: no "${text}" within ${ms} ms`);
      if (this.#child.exitCode !== null) throw new Error(`${this.#id} exited: ${this.#stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Sends `signal` to the container's PID 1 and waits for it to exit. */
  async stop(signal = 'TERM'): Promise<RunResult> {
    sh('runc', ['--root', this.#state, 'kill', this.#id, signal]);
    return this.exited;
  }

  /** Last resort for a test that failed half way. */
  kill(): void {
    try {
      sh('runc', ['--root', this.#state, 'kill', this.#id, 'KILL']);
    } catch {}
  }
}

/** A throwaway network namespace with loopback up; `remove()` deletes it. */
export class NetworkNamespace {
  readonly name: string;

  constructor(name: string) {
    this.name = name;
    this.remove();
    sh('ip', ['netns', 'add', name]);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** Runs a host program inside the namespace (e.g. the pinned node as an HTTP client). */
  exec(file: string, args: readonly string[]): string {
    return sh('ip', ['netns', 'exec', this.name, file, ...args]);
  }

  remove(): void {
    try {
      sh('ip', ['netns', 'del', this.name]);
    } catch {}
  }
}

/**
 * A containerd of the test's own (own root, state and socket, no CRI), to
 * import archives the way the local cluster does; `stop()` ends it.
 */
export class ThrowawayContainerd {
  readonly address: string;
  readonly #child: ChildProcess;

  constructor(dir: string) {
    this.address = join(dir, 'containerd.sock');
    const config = join(dir, 'config.toml');
    writeFileSync(
      config,
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        `[grpc]\naddress = "${this.address}"`,
        `[ttrpc]\naddress = "${this.address}.ttrpc"`,
        '',
      ].join('\n'),
    );
    this.#child = spawn('containerd', ['--config', config], { stdio: 'ignore' });
  }

  /** Runs `ctr --address <socket> ...` once containerd answers. */
  async ctr(args: readonly string[]): Promise<string> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return sh('ctr', ['--address', this.address, ...args]);
      } catch (err) {
        // containerd binds its socket a moment before it serves on it: until then
        // ctr cannot dial (no socket yet, or connection refused). Any other failure is ctr's.
        const stderr = String((err as { stderr?: unknown }).stderr ?? '');
        const starting = !existsSync(this.address) || /failed to dial/.test(stderr);
        if (Date.now() > deadline || !starting) throw err;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.on('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}
