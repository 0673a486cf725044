// Reading `-f FILE` or `-f -` (standard input) into parsed YAML documents.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Document, parseAllDocuments } from 'yaml';
import { errors } from '../errors.ts';

export async function readText(file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw errors.INVALID_MANIFEST(file === '-' ? 'standard input' : file, (err as Error).message);
  }
}

export async function readDocuments(file: string): Promise<Document[]> {
  const source = file === '-' ? 'standard input' : file;
  const documents = parseAllDocuments(await readText(file));
  if (!Array.isArray(documents)) return [];
  for (const [index, document] of documents.entries()) {
    const [first] = document.errors;
    if (first) throw errors.INVALID_MANIFEST(source, `document ${index + 1}: ${first.message}`);
  }
  return documents;
}

/** One input of `-f`: where it came from and its text. */
export interface Input {
  source: string;
  text: string;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/;

/**
 * Every `-f` in order: `-` is standard input, a file is read as it is, a
 * directory gives its .yaml, .yml and .json files in name order (its
 * subdirectories too with `recursive`, as `kubectl -R` does).
 */
export async function readInputs(paths: readonly string[], recursive: boolean): Promise<Input[]> {
  const inputs: Input[] = [];
  for (const path of paths) {
    if (path !== '-' && (await isDirectory(path))) {
      for (const file of await manifestFiles(path, recursive)) {
        inputs.push({ source: file, text: await readText(file) });
      }
      continue;
    }
    inputs.push({ source: path === '-' ? 'standard input' : path, text: await readText(path) });
  }
  return inputs;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false; // readText reports the missing file with its own message.
  }
}

async function manifestFiles(directory: string, recursive: boolean): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (recursive) files.push(...(await manifestFiles(path, recursive)));
    } else if (MANIFEST_FILE.test(entry.name)) {
      files.push(path);
    }
  }
  return files;
}
