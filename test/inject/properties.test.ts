// Properties over generated pods: the patch always applies, the user's own
// containers come through byte-identical, injecting twice equals injecting once,
// and the result is a schema-valid Pod.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Container, V1Pod, V1Probe } from '@kubernetes/client-node';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { isOutriggerError } from '../../src/errors.ts';
import { injectPod } from '../../src/inject/inject.ts';
import { PROBE_FIELDS, type ProbeField } from '../../src/inject/probes.ts';
import { renderPod } from '../../src/inject/render.ts';
import { buildUninjectPatch } from '../../src/inject/uninject.ts';
import { PORTS } from '../../src/shared/contract.ts';
import {
  readAdmissionRequest,
  reviewAdmission,
  serializeReview,
} from '../../src/webhook/admission.ts';
import { podSchemaErrors } from '../support/pod-schema.ts';

const RUNS = 300;

const uniqueByName = <T extends { name: string }>(items: T[]) => {
  const seen = new Set<string>();
  return items.filter((item) => !seen.has(item.name) && seen.add(item.name));
};

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const annotationKey = fc
  .tuple(
    fc.option(fc.stringMatching(/^[a-z0-9~.-]{1,12}\/$/), { nil: '' }),
    fc.stringMatching(/^[A-Za-z0-9~._/-]{1,20}$/),
  )
  .map(([prefix, name]) => prefix + name)
  .filter((key) => !key.includes('outrigger'));

const PROXY_PORTS = new Set<number>(Object.values(PORTS));

// Ports named `http`/`admin` may or may not be declared, so probes of named
// ports sometimes resolve and sometimes do not; 15021 is never captured.
const probePort = fc.oneof(
  fc.integer({ min: 1, max: 65535 }),
  fc.constantFrom(80, 8080, 15021),
  fc.constantFrom('http', 'admin', '8080'),
);
const probe: fc.Arbitrary<V1Probe> = fc
  .record(
    {
      handler: fc.oneof(
        fc
          .record(
            {
              path: fc.constantFrom('/', '/ready', '/healthz?full=1'),
              port: probePort,
              scheme: fc.constantFrom('HTTP', 'HTTPS'),
              host: fc.constant('192.0.2.1'),
              httpHeaders: fc.array(
                fc.record({ name: fc.constantFrom('Host', 'X-Probe'), value: fc.string() }),
                { maxLength: 2 },
              ),
            },
            { requiredKeys: ['port'] },
          )
          .map((httpGet) => ({ httpGet })),
        fc.record({ port: probePort }).map((tcpSocket) => ({ tcpSocket })),
        fc.constant({ exec: { command: ['true'] } }),
        fc.constant({ grpc: { port: 9090 } }),
      ),
      periodSeconds: fc.integer({ min: 1, max: 30 }),
      timeoutSeconds: fc.integer({ min: 1, max: 10 }),
      failureThreshold: fc.integer({ min: 1, max: 10 }),
    },
    { requiredKeys: ['handler'] },
  )
  .map(({ handler, ...timing }) => ({ ...timing, ...handler }) as V1Probe);

const container: fc.Arbitrary<V1Container> = fc.record(
  {
    name: dnsLabel,
    image: fc.stringMatching(/^[a-z0-9./:-]{1,30}$/),
    args: fc.array(fc.string(), { maxLength: 3 }),
    env: fc.array(
      fc.record({ name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), value: fc.string() }),
      { maxLength: 4 },
    ),
    ports: fc
      .array(
        fc.record(
          {
            name: fc.constantFrom('http', 'metrics'),
            // An app port on one of the proxy's is refused (port-collisions.ts, tested there).
            containerPort: fc
              .integer({ min: 1, max: 65535 })
              .filter((port) => !PROXY_PORTS.has(port)),
          },
          { requiredKeys: ['containerPort'] },
        ),
        { maxLength: 2 },
      )
      .map((ports) => uniqueByName(ports.map((p, i) => ({ name: `p${i}`, ...p })))),
    readinessProbe: probe,
    livenessProbe: probe,
    startupProbe: probe,
  },
  { requiredKeys: ['name', 'image'] },
);

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

/** A user container with its rewritten probes put back as the user wrote them. */
function withOriginalProbes(result: V1Container, original: V1Container): V1Container {
  const restored = structuredClone(result);
  for (const field of Object.keys(PROBE_FIELDS) as ProbeField[]) {
    const before = original[field];
    const after = result[field];
    if (
      before === undefined ||
      after === undefined ||
      JSON.stringify(before) === JSON.stringify(after)
    )
      continue;
    // A rewritten probe: same timing, httpGet on the health port, the original handler gone.
    const { httpGet, tcpSocket, ...timing } = before;
    assert.ok(httpGet !== undefined || tcpSocket !== undefined, `${field}: only httpGet/tcpSocket`);
    assert.equal(after.httpGet?.port, 15021);
    assert.equal(after.httpGet?.path, `/app-health/${original.name}/${PROBE_FIELDS[field]}`);
    assert.equal(after.tcpSocket, undefined);
    const { httpGet: _h, ...afterTiming } = after;
    assert.deepEqual(afterTiming, timing);
    // The kubelet would not have reached the app through the proxy with these.
    assert.equal(httpGet?.host ?? tcpSocket?.host, undefined);
    restored[field] = before;
  }
  return restored;
}

test('uninject undoes the patch: the pod comes back exactly as it was sent', () => {
  fc.assert(
    fc.property(podArbitrary, fc.constantFrom(...configs), (pod, config) => {
      const outcome = injectPod(pod, { namespace: 'demo' }, config);
      assert.ok(outcome.injected);
      const injected = jsonPatch.applyPatch(
        structuredClone(pod),
        structuredClone(outcome.patch),
        true,
        false,
      ).newDocument as V1Pod;
      const uninjection = buildUninjectPatch(injected);
      assert.ok(uninjection);
      assert.deepEqual(uninjection.notes, []);
      const restored = jsonPatch.applyPatch(injected, uninjection.operations, true, false)
        .newDocument as V1Pod;
      // Key order too: JSON.stringify, not deepEqual.
      assert.equal(JSON.stringify(restored), JSON.stringify(pod));
    }),
    { numRuns: RUNS },
  );
});

test('the patch applies cleanly, changes nothing in user containers but the probes it rewrites, and gives a valid Pod', () => {
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
      const userContainers = pod.spec?.containers ?? [];
      // The classic proxy goes first; the user's containers follow in their order.
      const resultUsers = result.spec?.containers.slice(ours.containers.length) ?? [];
      assert.equal(
        JSON.stringify(resultUsers.map((c, i) => withOriginalProbes(c, userContainers[i]!))),
        JSON.stringify(userContainers),
      );
      if (ours.layout === 'classic') {
        // The kubelet starts containers in order: the proxy first, holding the app in postStart.
        assert.equal(result.spec?.containers[0]?.name, 'outrigger-proxy');
        assert.deepEqual(
          result.spec?.containers[0]?.lifecycle?.postStart?.exec?.command?.slice(0, 2),
          ['outrigger-proxy', 'wait'],
        );
      }
      // kubectl logs/exec still go to the app, whatever comes first.
      assert.equal(
        result.metadata?.annotations?.['kubectl.kubernetes.io/default-container'],
        pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'] ??
          userContainers[0]?.name,
      );
      // Every op that is not an add replaces exactly one probe field of a user container.
      for (const op of outcome.patch.filter((o) => o.op !== 'add')) {
        assert.equal(op.op, 'replace');
        assert.match(op.path, /^\/spec\/containers\/\d+\/(readiness|liveness|startup)Probe$/);
      }
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

test('the review sent is the JSON of the answer, the patch included when the pod is injected', () => {
  fc.assert(
    fc.property(podArbitrary, fc.uuid(), (pod, uid) => {
      const { review } = reviewAdmission(
        { uid, operation: 'CREATE', object: pod },
        defaultConfig(),
        undefined,
      );
      // A refusal (say, an app port on one of the proxy's) carries no patch;
      // either way the text sent is the answer's JSON.
      if (review.response.allowed) assert.equal(review.response.patchType, 'JSONPatch');
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
