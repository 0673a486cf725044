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
  /** The text the current configuration came from; a reload that reads the same text is no event. */
  #text: string | undefined;
  readonly path: string | undefined;
  #stop: (() => void) | undefined;

  private constructor(config: InjectionConfig, text: string | undefined, path: string | undefined) {
    this.#current = config;
    this.#text = text;
    this.path = path;
  }

  /** Loads the file (or the defaults when there is none); a bad file at start is fatal. */
  static async load(path: string | undefined): Promise<ConfigSource> {
    if (path === undefined) return new ConfigSource(defaultConfig(), undefined, undefined);
    const text = await readConfigText(path);
    return new ConfigSource(parseConfig(text, path), text, path);
  }

  get current(): InjectionConfig {
    return this.#current;
  }

  /**
   * Polls the file (which follows the ConfigMap's symlink swap) and reloads when
   * its text changes. `report` hears every reload, good or bad. It also checks
   * once at once: watchFile takes its first reading asynchronously, so a change
   * made between load() and watch() would otherwise go unseen until the next one.
   */
  watch(report: (event: ConfigReport) => void, intervalMs = 1000): void {
    const path = this.path;
    if (path === undefined || this.#stop) return;
    const check = async () => {
      try {
        const text = await readConfigText(path);
        if (text === this.#text) return;
        this.#text = text;
        this.#current = parseConfig(text, path);
        report({ ok: true, source: path });
      } catch (err) {
        report({ ok: false, source: path, error: err as Error });
      }
    };
    const listener = () => void check();
    watchFile(path, { interval: intervalMs }, listener);
    this.#stop = () => unwatchFile(path, listener);
    void check();
  }

  close(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw errors.INVALID_CONFIG(path, (err as Error).message);
  }
}
