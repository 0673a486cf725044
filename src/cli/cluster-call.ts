// One Kubernetes API call of a CLI command, its failure turned into the coded
// OUTRIGGER_CLUSTER_REQUEST_FAILED with the apiserver's own sentence.
import { errors } from '../errors.ts';

export async function clusterCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw errors.CLUSTER_REQUEST_FAILED(what, apiErrorMessage(err));
  }
}

/** The apiserver's own sentence (a Status body's message), else the client's. */
function apiErrorMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: unknown };
      if (typeof status.message === 'string') return status.message;
    } catch {
      // Not a Status: fall through to the error's own message.
    }
  }
  return ((err as Error).message ?? String(err)).trim().slice(0, 500);
}
