// `outrigger uninject -f FILE|DIR|-`: the inverse of `outrigger inject`. Each
// pod template that carries the status annotation loses exactly what it lists
// and gets its app probes back (src/inject/uninject.ts); the operations are
// applied to the YAML document itself, as inject does, so what injection did
// not add keeps its comments and style, and an untouched document is copied
// byte for byte.
import type { Document } from 'yaml';
import { isOutriggerError } from '../errors.ts';
import { buildUninjectPatch } from '../inject/uninject.ts';
import { STATUS_ANNOTATION } from '../shared/contract.ts';
import { findPodTemplates } from './manifests.ts';
import { applyPatchToDocument, editDocuments } from './yaml-patch.ts';

export interface UninjectReport {
  output: string;
  /** Notes for stderr: templates never injected, and what could not be undone exactly. */
  notes: string[];
  uninjected: string[];
  /** Templates whose status could not be read; non-empty means a non-zero exit. */
  problems: string[];
}

export function uninjectText(text: string, source: string): UninjectReport {
  const notes: string[] = [];
  const uninjected: string[] = [];
  const problems: string[] = [];
  const output = editDocuments(text, source, (document, index) =>
    uninjectDocument(document, `${source}: document ${index + 1}`, {
      notes,
      uninjected,
      problems,
    }),
  );
  return { output, notes, uninjected, problems };
}

function uninjectDocument(
  document: Document,
  where: string,
  report: Omit<UninjectReport, 'output'>,
): boolean {
  let changed = false;
  for (const { ref, template, path } of findPodTemplates(document.toJS(), 'default')) {
    const pod = { metadata: template.metadata, spec: template.spec };
    let uninjection: ReturnType<typeof buildUninjectPatch>;
    try {
      uninjection = buildUninjectPatch(pod);
    } catch (err) {
      if (!isOutriggerError(err)) throw err;
      report.problems.push(`${where}: ${ref}: ${err.message} [${err.code}]`);
      continue;
    }
    if (uninjection === undefined) {
      report.notes.push(
        `${where}: ${ref}: not injected (no ${STATUS_ANNOTATION} annotation); left as it is`,
      );
      continue;
    }
    for (const note of uninjection.notes) report.notes.push(`${where}: ${ref}: ${note}`);
    applyPatchToDocument(document, path, uninjection.operations);
    report.uninjected.push(ref);
    changed = true;
  }
  return changed;
}
