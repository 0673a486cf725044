// RFC 6902 operations applied to a YAML document in place, through the `yaml`
// package's node API, so that what `outrigger inject` does not touch keeps its
// comments, key order, flow style and quoting. New nodes are created with
// aliasDuplicateObjects off: an injected manifest never carries an anchor.
import { type Document, isMap, isSeq } from 'yaml';
import type { PatchOperation } from '../inject/patch.ts';

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
 * Applies the operations (adds and replaces, as buildPatch makes them) to the
 * object found at `prefix` in the document: the pod template the patch was
 * built for. Each token is a sequence index where the node is a sequence, a
 * map key otherwise, as RFC 6901 §4 reads it.
 */
export function applyPatchToDocument(
  document: Document,
  prefix: NodePath,
  operations: readonly PatchOperation[],
): void {
  for (const operation of operations) {
    const path = tokens(operation.path);
    const last = path.pop() ?? '';
    const parentPath: NodePath = [...prefix];
    for (const token of path) {
      const node = document.getIn(parentPath, true);
      parentPath.push(isSeq(node) ? Number(token) : token);
    }
    const value = document.createNode(operation.value, { aliasDuplicateObjects: false });
    const parent = parentPath.length === 0 ? document.contents : document.getIn(parentPath, true);
    if (isSeq(parent)) {
      const index = last === '-' ? parent.items.length : Number(last);
      if (operation.op === 'add') parent.items.splice(index, 0, value);
      else parent.items[index] = value;
    } else if (isMap(parent) || parent === undefined || parent === null) {
      document.setIn([...parentPath, last], value);
    } else {
      throw new Error(`cannot apply ${operation.op} ${operation.path}: its parent is a scalar`);
    }
  }
}
