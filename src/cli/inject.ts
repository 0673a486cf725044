// `outrigger inject -f FILE|-`: manual injection, like `istioctl kube-inject`.
// Each pod template goes through the webhook's own decide → render → patch,
// and the patch is applied with fast-json-patch exactly as the apiserver would.
import type { V1Pod } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { Document, isMap, isNode } from 'yaml';
import type { InjectionConfig } from '../config/schema.ts';
import { errors } from '../errors.ts';
import { injectPod } from '../inject/inject.ts';
import { describeSkip } from '../inject/reasons.ts';
import { findPodTemplates, type PodTemplate } from './manifests.ts';

export interface InjectReport {
  /** The manifests to write, injected where they could be. */
  output: string;
  /** One line per pod template that was not injected, for stderr. */
  skipped: string[];
  injected: string[];
}

/**
 * Injects every pod template in the documents. Documents without one are
 * written back as they came. Throws the first coded error (a bad annotation)
 * with the object it came from prefixed.
 */
export function injectDocuments(
  documents: Document[],
  config: InjectionConfig,
  defaultNamespace: string,
): InjectReport {
  const skipped: string[] = [];
  const injected: string[] = [];
  const parts = documents.map((document) => {
    const object: unknown = document.toJS();
    const templates = findPodTemplates(object, defaultNamespace);
    let changed = false;
    for (const { ref, namespace, template } of templates) {
      if (!Array.isArray(template.spec?.containers)) {
        throw errors.INVALID_MANIFEST(ref, 'its pod template has no spec.containers');
      }
      const pod = asPod(template);
      let outcome: ReturnType<typeof injectPod>;
      try {
        outcome = injectPod(pod, { namespace }, config);
      } catch (err) {
        (err as Error).message = `${ref}: ${(err as Error).message}`;
        throw err;
      }
      if (!outcome.injected) {
        skipped.push(
          `${ref}: not injected: ${describeSkip(outcome.decision.reason)} [${outcome.decision.reason}]`,
        );
        continue;
      }
      const result = jsonPatch.applyPatch(pod, outcome.patch, true, true).newDocument;
      template.metadata = result.metadata;
      template.spec = result.spec;
      injected.push(ref);
      changed = true;
    }
    // Documents are joined with our own `---`, so each drops its own marker.
    if (document.directives) document.directives.docStart = null;
    if (!changed) return document.toString({ lineWidth: 0 });
    const rewritten = new Document(object);
    // Keep the comment a reader wrote above the object (the parser hangs it on
    // the document, the map, or the map's first key, depending on blank lines).
    const firstKey = isMap(document.contents) ? document.contents.items[0]?.key : undefined;
    rewritten.commentBefore =
      document.commentBefore ??
      document.contents?.commentBefore ??
      (isNode(firstKey) ? firstKey.commentBefore : null) ??
      null;
    return rewritten.toString({ lineWidth: 0 });
  });
  return { output: joinDocuments(parts), skipped, injected };
}

/** A template seen as the pod the apiserver would create from it. */
function asPod(template: PodTemplate): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: template.metadata,
    spec: template.spec,
  } as V1Pod;
}

function joinDocuments(parts: string[]): string {
  return parts.map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('---\n');
}
