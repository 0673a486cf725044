// `outrigger inject -f FILE|DIR|-`: manual injection, like `istioctl kube-inject`.
// Each pod template goes through the webhook's own decide → render → patch, and
// the patch is applied to the YAML document itself (yaml-patch.ts): comments,
// key order, flow style and document markers survive, a document without an
// injected template comes out byte for byte, and no anchor is ever written.
import type { Document } from 'yaml';
import type { InjectionConfig } from '../config/schema.ts';
import { errors, isOutriggerError, type OutriggerError } from '../errors.ts';
import { injectPod } from '../inject/inject.ts';
import { overrideErrors } from '../inject/overrides.ts';
import { describeSkip } from '../inject/reasons.ts';
import { findPodTemplates, type PodTemplate } from './manifests.ts';
import { applyPatchToDocument, editDocuments } from './yaml-patch.ts';

export interface InjectReport {
  /** The manifests to write: injected where they could be, the rest as they came. */
  output: string;
  /** One line per pod template that was not injected, for stderr. */
  skipped: string[];
  injected: string[];
  /** Every refusal, each prefixed with its source and object; non-empty means a non-zero exit. */
  problems: string[];
}

/**
 * Injects every pod template in one input's text. A template whose pod would
 * be refused is left as it is and every reason is reported (all its bad
 * annotations, not only the first), so one typo does not hide the rest.
 */
export function injectText(
  text: string,
  source: string,
  config: InjectionConfig,
  defaultNamespace: string,
): InjectReport {
  const skipped: string[] = [];
  const injected: string[] = [];
  const problems: string[] = [];
  const output = editDocuments(text, source, (document) =>
    injectDocument(document, config, defaultNamespace, source, { skipped, injected, problems }),
  );
  return { output, skipped, injected, problems };
}

function injectDocument(
  document: Document,
  config: InjectionConfig,
  defaultNamespace: string,
  source: string,
  report: Omit<InjectReport, 'output'>,
): boolean {
  let changed = false;
  for (const { ref, namespace, template, path, workload } of findPodTemplates(
    document.toJS(),
    defaultNamespace,
  )) {
    const where = `${source}: ${ref}`;
    if (!Array.isArray(template.spec?.containers)) {
      report.problems.push(
        `${where}: ${errors.INVALID_MANIFEST(ref, 'its pod template has no spec.containers').message}`,
      );
      continue;
    }
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: template.metadata, spec: template.spec };
    let outcome: ReturnType<typeof injectPod>;
    try {
      outcome = injectPod(pod, { namespace, workload }, config);
    } catch (err) {
      if (!isOutriggerError(err)) throw err;
      for (const problem of everyProblem(template, err)) {
        report.problems.push(`${where}: ${problem.message} [${problem.code}]`);
      }
      continue;
    }
    if (!outcome.injected) {
      report.skipped.push(
        `${where}: not injected: ${describeSkip(outcome.decision.reason)} [${outcome.decision.reason}]`,
      );
      continue;
    }
    for (const warning of outcome.warnings) report.skipped.push(`${where}: warning: ${warning}`);
    applyPatchToDocument(document, path, outcome.patch);
    report.injected.push(ref);
    changed = true;
  }
  return changed;
}

/** A bad annotation is rarely alone: report all of them, not only the one that stopped injection. */
function everyProblem(template: PodTemplate, err: OutriggerError): OutriggerError[] {
  if (!isOutriggerError(err, errors.INVALID_ANNOTATION)) return [err];
  const all = overrideErrors({ metadata: template.metadata, spec: template.spec });
  return all.some((e) => e.message === err.message) ? all : [err, ...all];
}

/** Several inputs as one stream of documents: a `---` goes between two when the next has none. */
export function joinInputs(outputs: string[]): string {
  let joined = '';
  for (const output of outputs) {
    if (output.trim() === '') continue;
    if (joined !== '') {
      if (!joined.endsWith('\n')) joined += '\n';
      if (!/^(\s*#.*\n)*\s*---/.test(output)) joined += '---\n';
    }
    joined += output;
  }
  return joined;
}
