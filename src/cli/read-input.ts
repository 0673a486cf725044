// Reading `-f FILE` or `-f -` (standard input) into parsed YAML documents.
import { readFile } from 'node:fs/promises';
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
