// Properties over generated pods: the patch always applies, the user's own
// containers come through byte-identical, injecting twice equals injecting once,
// and the result is a schema-valid Pod.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { isOutriggerError } from '../../src/errors.ts';
import { injectPod } from '../../src/inject/inject.ts';
import { renderPod } from '../../src/inject/render.ts';
import {
  readAdmissionRequest,
  reviewAdmission,
  serializeReview,
} from '../../src/webhook/admission.ts';
import { podSchemaErrors } from '../support/pod-schema.ts';

const RUNS = 300;

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const annotationKey = fc
  .tuple(
    fc.option(fc.stringMatching(/^[a-z0-9~.-]{1,12}\/$/), { nil: '' }),
    fc.stringMatching(/^[A-Za-z0-9~._/-]{1,20}$/),
  )
  .map(([prefix, name]) => prefix + name)
  .filter((key) => !key.includes('outrigger'));

const container: fc.Arbitrary<V1Container> = fc.record(
  {
    name: dnsLabel,
    image: fc.stringMatching(/^[a-z0-9./:-]{1,30}$/),
    args: fc.array(fc.string(), { maxLength: 3 }),
    env: fc.array(
      fc.record({ name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), value: fc.string() }),
      { maxLength: 4 },
    ),
    ports: fc.array(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }) }), {
      maxLength: 2,
    }),
  },
  { requiredKeys: ['name', 'image'] },
);

const uniqueByName = <T extends { name: string }>(items: T[]) => {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(item.name) && seen.add(item.name));
};

const podArbitrary: fc.Arbitrary<V1Pod> = fc
  .record(
    {
      name: dnsLabel,
      labels: fc.dictionary(dnsLabel, dnsLabel, { maxKeys: 3 }),
      annotations: fc.dictionary(annotationKey, fc.string(), { maxKeys: 4 }),
      containers: fc.array(container, { minLength: 1, maxLength: 4 }),
      initContainers: fc.array(container, { maxLength: 3 }),
      volumes: fc.array(fc.record({ name: dnsLabel, emptyDir: fc.constant({}) }), { maxLength: 3 }),
    },
    { requiredKeys: ['containers'] },
  )
  .map(({ name, labels, annotations, containers, initContainers, volumes }) => {
    const all = uniqueByName([...containers, ...(initContainers ?? [])]);
    const users = all.slice(0, Math.max(1, Math.min(all.length, containers.length)));
    const inits = all.slice(users.length);
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: {}, spec: { containers: users } };
    if (name !== undefined) pod.metadata!.name = name;
    if (labels !== undefined) pod.metadata!.labels = labels;
    if (annotations !== undefined) pod.metadata!.annotations = annotations;
    if (initContainers !== undefined) pod.spec!.initContainers = inits;
    if (volumes !== undefined) pod.spec!.volumes = uniqueByName(volumes);
    return pod;
  });

const configs = [defaultConfig(), parseConfig('nativeSidecars: false', 'classic')];

test('the patch applies cleanly, keeps user containers byte-identical and gives a valid Pod', () => {
  fc.assert(
    fc.property(podArbitrary, fc.constantFrom(...configs), (pod, config) => {
      const before = JSON.stringify(pod);
      const outcome = injectPod(pod, { namespace: 'demo' }, config);
      assert.equal(JSON.stringify(pod), before, 'injectPod must not mutate its input');
      assert.ok(outcome.injected);
      // validate=true: every operation is checked against the document as it goes.
      const result = jsonPatch.applyPatch(
        structuredClone(pod),
        structuredClone(outcome.patch),
        true,
        false,
      ).newDocument as V1Pod;
      assert.deepEqual(result, renderPod(pod, outcome.injection));

      const ours = outcome.injection;
      const userInits = pod.spec?.initContainers ?? [];
      assert.equal(
        JSON.stringify(result.spec?.containers.slice(0, pod.spec?.containers.length)),
        JSON.stringify(pod.spec?.containers),
      );
      assert.equal(
        JSON.stringify(result.spec?.initContainers?.slice(ours.initContainers.length)),
        JSON.stringify(userInits),
      );
      assert.equal(
        JSON.stringify(result.spec?.volumes?.slice(0, pod.spec?.volumes?.length ?? 0)),
        JSON.stringify(pod.spec?.volumes ?? []),
      );
      for (const [key, value] of Object.entries(pod.metadata?.annotations ?? {})) {
        assert.equal(result.metadata?.annotations?.[key], value, `user annotation ${key} changed`);
      }
      assert.deepEqual(podSchemaErrors(result), []);
    }),
    { numRuns: RUNS },
  );
});

test('injecting twice equals injecting once', () => {
  fc.assert(
    fc.property(podArbitrary, fc.constantFrom(...configs), (pod, config) => {
      const first = injectPod(pod, { namespace: 'demo' }, config);
      assert.ok(first.injected);
      const once = jsonPatch.applyPatch(structuredClone(pod), first.patch, false, false)
        .newDocument as V1Pod;
      const second = injectPod(once, { namespace: 'demo' }, config);
      assert.equal(second.injected, false);
      assert.equal(second.decision.reason, 'sidecar_already_exists');
    }),
    { numRuns: RUNS },
  );
});

test('the review sent for an injected pod is the JSON of the answer, patch included', () => {
  fc.assert(
    fc.property(podArbitrary, fc.uuid(), (pod, uid) => {
      const { review } = reviewAdmission(
        { uid, operation: 'CREATE', object: pod },
        defaultConfig(),
        undefined,
      );
      assert.equal(review.response.patchType, 'JSONPatch');
      assert.equal(serializeReview(review), JSON.stringify(review));
    }),
    { numRuns: RUNS },
  );
});

test('any JSON body gets an answer or a coded error, never a crash', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.record({
          apiVersion: fc.constant('admission.k8s.io/v1'),
          kind: fc.constant('AdmissionReview'),
          request: fc.record({
            uid: fc.uuid(),
            operation: fc.constantFrom('CREATE', 'UPDATE'),
            object: fc.oneof(
              fc.jsonValue(),
              fc.record({
                spec: fc.record({ containers: fc.array(fc.jsonValue(), { maxLength: 3 }) }),
              }),
              fc.record({
                metadata: fc.record({ annotations: fc.dictionary(fc.string(), fc.jsonValue()) }),
                spec: fc.constant({ containers: [{ name: 'app' }] }),
              }),
            ),
          }),
        }),
      ),
      (body) => {
        try {
          const result = reviewAdmission(readAdmissionRequest(body), defaultConfig(), undefined);
          assert.equal(typeof result.review.response.allowed, 'boolean');
          // What the webhook sends is exactly what JSON.stringify would give.
          assert.equal(serializeReview(result.review), JSON.stringify(result.review));
        } catch (err) {
          assert.ok(isOutriggerError(err), `uncoded error: ${err}`);
        }
      },
    ),
    { numRuns: RUNS * 2 },
  );
});

/**
 * The same pods, with the maps and lists the apiserver may send as null
 * (`metadata`, `annotations`, `labels`, `initContainers`, `volumes`)
 * meaning empty.
 */
const podWithNulls: fc.Arbitrary<V1Pod> = fc
  .tuple(
    podArbitrary,
    fc.record({
      labels: fc.boolean(),
      annotations: fc.boolean(),
      initContainers: fc.boolean(),
      volumes: fc.boolean(),
      metadata: fc.boolean(),
    }),
  )
  .map(([pod, nulls]) => {
    const nulled = structuredClone(pod) as unknown as {
      metadata: Record<string, unknown>;
      spec: Record<string, unknown>;
    };
    if (nulls.labels) nulled.metadata.labels = null;
    if (nulls.annotations) nulled.metadata.annotations = null;
    if (nulls.initContainers) nulled.spec.initContainers = null;
    if (nulls.volumes) nulled.spec.volumes = null;
    if (nulls.metadata && !nulls.labels && !nulls.annotations)
      (nulled as { metadata: unknown }).metadata = null;
    return nulled as unknown as V1Pod;
  });

test('null maps and lists are empty ones: the review injects, and its patch applies to the pod sent', () => {
  fc.assert(
    fc.property(podWithNulls, fc.constantFrom(...configs), (pod, config) => {
      const { review, outcome } = reviewAdmission(
        { uid: 'u', operation: 'CREATE', object: pod },
        config,
        undefined,
      );
      assert.equal(review.response.allowed, true, review.response.status?.message);
      assert.equal(outcome.decision, 'injected');
      const patch = JSON.parse(Buffer.from(review.response.patch ?? '', 'base64').toString());
      const result = jsonPatch.applyPatch(structuredClone(pod), patch, true, false)
        .newDocument as V1Pod;
      const injected = injectPod(pod, { namespace: 'demo' }, config);
      assert.ok(injected.injected);
      assert.deepEqual(result, renderPod(pod, injected.injection));
      // Ours come first in initContainers and last in volumes, whatever was null.
      assert.equal(
        result.spec?.initContainers?.[0]?.name,
        injected.injection.initContainers[0]?.name,
      );
      assert.ok(result.metadata?.annotations?.['sidecar.outrigger.dev/status']);
      const again = injectPod(result, { namespace: 'demo' }, config);
      assert.equal(again.injected, false);
    }),
    { numRuns: RUNS },
  );
});
