// The configuration file, kept current: reloaded when it changes, and a bad
// reload keeps the last good configuration while the error is reported.
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errors } from '../errors.ts';
import { defaultConfig, parseConfig } from './load.ts';
import type { InjectionConfig } from './schema.ts';

export interface ConfigReport {
  ok: boolean;
  source: string;
  error?: Error;
}

export class ConfigSource {
  #current: InjectionConfig;
  readonly path: string | undefined;
  #stop: (() => void) | undefined;

  private constructor(config: InjectionConfig, path: string | undefined) {
    this.#current = config;
    this.path = path;
  }

  /** Loads the file (or the defaults when there is none); a bad file at start is fatal. */
  static async load(path: string | undefined): Promise<ConfigSource> {
    if (path === undefined) return new ConfigSource(defaultConfig(), undefined);
    return new ConfigSource(await readConfigFile(path), path);
  }

  get current(): InjectionConfig {
    return this.#current;
  }

  /**
   * Polls the file (which follows the ConfigMap's symlink swap) and reloads on
   * change. `report` hears every reload, good or bad.
   */
  watch(report: (event: ConfigReport) => void, intervalMs = 1000): void {
    const path = this.path;
    if (path === undefined || this.#stop) return;
    const listener = async () => {
      try {
        this.#current = await readConfigFile(path);
        report({ ok: true, source: path });
      } catch (err) {
        report({ ok: false, source: path, error: err as Error });
      }
    };
    watchFile(path, { interval: intervalMs }, listener);
    this.#stop = () => unwatchFile(path, listener);
  }

  close(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}

async function readConfigFile(path: string): Promise<InjectionConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw errors.INVALID_CONFIG(path, (err as Error).message);
  }
  return parseConfig(text, path);
}
