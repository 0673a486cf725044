// RFC 6902 operations applied to a YAML document in place, through the `yaml`
// package's node API, so that what `outrigger inject` does not touch keeps its
// comments, key order, flow style and quoting. New nodes are created with
// aliasDuplicateObjects off: an injected manifest never carries an anchor.
import { type Document, isMap, isScalar, isSeq, type Node, parseAllDocuments } from 'yaml';
import { errors } from '../errors.ts';
import type { PatchOperation, RemoveOperation } from '../inject/patch.ts';

/** Keys and sequence indexes from the document's root to a node. */
export type NodePath = Array<string | number>;

/** RFC 6901 §4: `~1` is `/` and `~0` is `~` inside a reference token. */
function tokens(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * Applies the operations (adds and replaces, as buildPatch makes them; removes
 * and replaces, as buildUninjectPatch makes them) to the
 * object found at `prefix` in the document: the pod template the patch was
 * built for. Each token is a sequence index where the node is a sequence, a
 * map key otherwise, as RFC 6901 §4 reads it.
 */
export function applyPatchToDocument(
  document: Document,
  prefix: NodePath,
  operations: readonly (PatchOperation | RemoveOperation)[],
): void {
  for (const operation of operations) {
    const path = tokens(operation.path);
    const last = path.pop() ?? '';
    const parentPath: NodePath = [...prefix];
    for (const token of path) {
      const node = document.getIn(parentPath, true);
      parentPath.push(isSeq(node) ? Number(token) : token);
    }
    const parent = parentPath.length === 0 ? document.contents : document.getIn(parentPath, true);
    if (operation.op === 'remove') {
      if (isSeq(parent)) parent.items.splice(Number(last), 1);
      else document.deleteIn([...parentPath, last]);
      continue;
    }
    if (isSeq(parent)) {
      const index = last === '-' ? parent.items.length : Number(last);
      if (operation.op === 'add') parent.items.splice(index, 0, newNode(document, operation.value));
      else parent.items[index] = editNode(document, parent.items[index], operation.value);
    } else if (isMap(parent)) {
      const node = operation.op === 'replace' ? parent.get(last, true) : undefined;
      parent.set(last, editNode(document, node, operation.value));
    } else if (parent === undefined || parent === null) {
      document.setIn([...parentPath, last], newNode(document, operation.value));
    } else {
      throw new Error(`cannot apply ${operation.op} ${operation.path}: its parent is a scalar`);
    }
  }
}

function newNode(document: Document, value: unknown): Node {
  return document.createNode(value, { aliasDuplicateObjects: false });
}

/**
 * A replaced value edited into the node it replaces rather than swapped for a
 * new one: a map keeps its style and the key nodes (and comments) of the keys
 * that stay, in the new value's key order; a sequence keeps its style; a scalar
 * that keeps its value stays as it was written. So rewriting a probe and
 * putting it back gives the bytes it started with.
 */
function editNode(document: Document, node: unknown, value: unknown): Node {
  if (isMap(node) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const keyOf = (pair: (typeof node.items)[number]) =>
      isScalar(pair.key) ? pair.key.value : pair.key;
    // A key that takes the place of a dropped one (tcpSocket → httpGet and back)
    // is written in the dropped one's flow or block style.
    const dropped = node.items.find((p) => !Object.hasOwn(value, String(keyOf(p))))?.value;
    node.items = Object.entries(value).map(([key, child]) => {
      const pair = node.items.find((p) => keyOf(p) === key);
      if (pair !== undefined) {
        pair.value = editNode(document, pair.value, child);
        return pair;
      }
      const created = document.createPair(key, child, { aliasDuplicateObjects: false });
      if ((isMap(created.value) || isSeq(created.value)) && (isMap(dropped) || isSeq(dropped)))
        created.value.flow = dropped.flow;
      return created;
    });
    return node;
  }
  if (isSeq(node) && Array.isArray(value)) {
    node.items = value.map((child, i) =>
      i < node.items.length ? editNode(document, node.items[i], child) : newNode(document, child),
    );
    return node;
  }
  if (isScalar(node) && node.value === value) return node;
  const fresh = newNode(document, value);
  if (isScalar(node) || isMap(node) || isSeq(node)) {
    if (node.comment) fresh.comment = node.comment;
    if (node.commentBefore) fresh.commentBefore = node.commentBefore;
  }
  return fresh;
}

/**
 * Edits every document of one input's text with `edit`, which returns whether
 * it changed the document. Only a changed document is printed again;
 * everything else, between and around documents too, is copied byte for byte.
 */
export function editDocuments(
  text: string,
  source: string,
  edit: (document: Document, index: number) => boolean,
): string {
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) return text;
  let output = '';
  let cursor = 0;
  for (const [index, document] of documents.entries()) {
    const [first] = document.errors;
    if (first) throw errors.INVALID_MANIFEST(source, `document ${index + 1}: ${first.message}`);
    if (!edit(document, index)) continue;
    const [start, , end] = document.range;
    // A comment above the document's range is the document's own commentBefore,
    // which printing writes back: copying it too would say it twice.
    const before = text.slice(cursor, start);
    output += document.commentBefore && before.trim() !== '' ? '' : before;
    output += printDocument(document, text.slice(start, end));
    cursor = end;
  }
  return output + text.slice(cursor);
}

/** The document printed again, keeping its own start marker and end marker. */
function printDocument(document: Document, original: string): string {
  const printed = document.toString({ lineWidth: 0, flowCollectionPadding: false });
  const ended = /\n\.\.\.\s*$/.test(original) && !/\n\.\.\.\s*$/.test(printed);
  return ended ? `${printed}...\n` : printed;
}
