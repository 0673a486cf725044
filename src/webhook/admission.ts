// AdmissionReview in, AdmissionReview out (admission.k8s.io/v1). Pure: the
// server hands it a parsed body and sends back whatever this returns.
import type { V1Pod } from '@kubernetes/client-node';
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { InjectionConfig } from '../config/schema.ts';
import { errors, isOutriggerError, type OutriggerError } from '../errors.ts';
import { injectPod } from '../inject/inject.ts';
import { serializePatch } from '../inject/patch.ts';
import { type EnforcedLevel, explainPodSecurity } from '../inject/pod-security.ts';
import type { PolicyChoice } from '../inject/policy.ts';
import type { SkipReason } from '../inject/reasons.ts';
import { echoText, quoteValue } from '../shared/echo.ts';

const API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  name?: string;
  dryRun?: boolean;
  object?: unknown;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  /** base64 of the RFC 6902 patch. */
  patch?: string;
  status?: { code: number; reason?: string; message: string };
  /** Shown to the client (kubectl prints `Warning: ...` on stderr), even when a later admission step refuses the pod. */
  warnings?: string[];
}

export interface AdmissionReviewOut {
  apiVersion: typeof API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** What happened to one review, for the log line and the metrics. */
export type ReviewOutcome =
  | { decision: 'injected'; reason: string; policy: PolicyChoice }
  | { decision: 'skipped'; reason: SkipReason }
  | { decision: 'denied'; reason: string; message: string };

export interface ReviewResult {
  review: AdmissionReviewOut;
  outcome: ReviewOutcome;
  namespace: string;
  pod: string;
}

/**
 * Checks the envelope and returns the request. Throws a coded 400 error when
 * the body is not an AdmissionReview at all (there is no uid to answer to).
 */
export function readAdmissionRequest(body: unknown): AdmissionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw errors.NOT_ADMISSION_REVIEW('expected a JSON object');
  }
  const review = body as Record<string, unknown>;
  if (review.kind !== 'AdmissionReview') {
    throw errors.NOT_ADMISSION_REVIEW(
      `kind is ${quoteValue(review.kind)}, expected "AdmissionReview"`,
    );
  }
  if (review.apiVersion !== API_VERSION) {
    throw errors.NOT_ADMISSION_REVIEW(
      `apiVersion is ${quoteValue(review.apiVersion)}, expected "${API_VERSION}"`,
    );
  }
  const request = review.request as Record<string, unknown> | undefined;
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw errors.NOT_ADMISSION_REVIEW('it has no request');
  }
  if (typeof request.uid !== 'string' || request.uid === '') {
    throw errors.NOT_ADMISSION_REVIEW('request.uid is missing');
  }
  return request as unknown as AdmissionRequest;
}

/**
 * Answers one admission request: inject, skip, or deny with a message.
 * `podSecurity` is the level the pod's namespace enforces, when the webhook entry
 * that sent it says so (the chart's /inject/pod-security/<level> entries): an
 * injected pod then carries warnings that explain the PodSecurity plugin's refusal.
 */
export function reviewAdmission(
  request: AdmissionRequest,
  config: InjectionConfig,
  injectorNamespace: string | undefined,
  podSecurity?: EnforcedLevel,
): ReviewResult {
  const object = request.object as V1Pod | undefined;
  const namespace = request.namespace || object?.metadata?.namespace || 'default';
  const pod =
    object?.metadata?.name ||
    (object?.metadata?.generateName ? `${object.metadata.generateName}*` : '');
  const answer = (
    response: Omit<AdmissionResponse, 'uid'>,
    outcome: ReviewOutcome,
  ): ReviewResult => ({
    review: {
      apiVersion: API_VERSION,
      kind: 'AdmissionReview',
      response: { uid: request.uid, ...response },
    },
    outcome,
    namespace,
    pod,
  });
  // The error table says which refusals are answered in a review, and with which status.
  const deny = (err: OutriggerError & { httpStatus: number }) =>
    answer(
      {
        allowed: false,
        status: {
          code: err.httpStatus,
          reason: statusReason(err.httpStatus),
          message: err.message,
        },
      },
      { decision: 'denied', reason: err.reason, message: err.message },
    );

  if (request.operation !== undefined && request.operation !== 'CREATE') {
    return answer({ allowed: true }, { decision: 'skipped', reason: 'not_create_operation' });
  }
  const kind = request.kind?.kind;
  if (kind !== undefined && kind !== 'Pod') {
    return deny(
      errors.NOT_A_POD(
        `the request is for a ${echoText(String(kind))}; the webhook should only be sent pods`,
      ),
    );
  }
  if (!isPodShaped(object)) {
    return deny(
      errors.NOT_A_POD('request.object is not a Pod (it needs spec.containers, each with a name)'),
    );
  }
  try {
    const outcome = injectPod(object, { namespace, injectorNamespace }, config);
    if (!outcome.injected) {
      return answer({ allowed: true }, { decision: 'skipped', reason: outcome.decision.reason });
    }
    const patch = Buffer.from(serializePatch(outcome.patch)).toString('base64');
    const warnings = [
      ...outcome.warnings,
      ...(podSecurity ? explainPodSecurity(namespace, podSecurity, outcome.injection) : []),
    ];
    return answer(
      {
        allowed: true,
        patchType: 'JSONPatch',
        patch,
        ...(warnings.length > 0 ? { warnings } : {}),
      },
      { decision: 'injected', reason: outcome.decision.reason, policy: outcome.policy },
    );
  } catch (err) {
    if (answeredInReview(err)) return deny(err);
    throw err;
  }
}

/**
 * The review as JSON text, equal to JSON.stringify(review). The base64 patch is
 * most of the bytes and never needs escaping, so it is appended as it is rather
 * than scanned character by character again.
 */
export function serializeReview(review: AdmissionReviewOut): string {
  const { patch, ...response } = review.response;
  const json = JSON.stringify({ ...review, response });
  if (patch === undefined) return json;
  // `json` ends with the closing braces of response and of the review.
  return `${json.slice(0, -2)},"patch":"${patch}"}}`;
}

// The parts of a Pod that injection reads, so that a hostile or hand-written
// body gets a 'not a Pod' answer instead of a crash halfway through rendering.
// A map or list sent as null means empty, as it does to the apiserver (Go
// decodes JSON null into a nil map or slice); decide, render and patch read
// null as absent.
const Named = Type.Object({ name: Type.String() });
const StringMap = Type.Record(Type.String(), Type.String());
const orNull = <T extends TSchema>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));
const PodShape = TypeCompiler.Compile(
  Type.Object({
    kind: Type.Optional(Type.Literal('Pod')),
    metadata: orNull(Type.Object({ labels: orNull(StringMap), annotations: orNull(StringMap) })),
    spec: Type.Object({
      containers: Type.Array(Named),
      initContainers: orNull(Type.Array(Named)),
      volumes: orNull(Type.Array(Named)),
      hostNetwork: orNull(Type.Boolean()),
    }),
  }),
);

function isPodShaped(object: unknown): object is V1Pod {
  return PodShape.Check(object);
}

/** A coded error the table gives an HTTP status: the pod is refused, the review answered. */
function answeredInReview(err: unknown): err is OutriggerError & { httpStatus: number } {
  return isOutriggerError(err) && err.httpStatus !== undefined;
}

/** metav1.StatusReason for a status code (k8s.io/apimachinery/pkg/apis/meta/v1/types.go). */
function statusReason(code: number): string {
  return code === 400 ? 'BadRequest' : 'InternalError';
}
