// The RFC 6902 patch that puts a CA bundle into every webhook of a
// MutatingWebhookConfiguration. Each replace is guarded by a `test` on the
// webhook's name, so a concurrent `helm upgrade` that reorders or renames webhooks
// makes the patch fail (and the next re-check retry) instead of writing the bundle
// into the wrong entry.
import type { Operation } from 'fast-json-patch';

export interface WebhookCaView {
  name: string;
  /** base64 of the PEM bundle, as the API stores it; undefined when unset. */
  caBundle?: string;
}

/** The patch, or an empty list when every webhook already carries `bundlePem`. */
export function caBundlePatch(webhooks: readonly WebhookCaView[], bundlePem: string): Operation[] {
  const wanted = Buffer.from(bundlePem, 'utf8').toString('base64');
  const operations: Operation[] = [];
  webhooks.forEach((webhook, index) => {
    if (webhook.caBundle === wanted) return;
    operations.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
    operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted });
  });
  return operations;
}

/** Whether every webhook trusts `certPem` (its bundle contains that exact PEM block). */
export function everyWebhookTrusts(webhooks: readonly WebhookCaView[], certPem: string): boolean {
  const needle = certPem.trim();
  return (
    webhooks.length > 0 &&
    webhooks.every((webhook) =>
      Buffer.from(webhook.caBundle ?? '', 'base64')
        .toString('utf8')
        .includes(needle),
    )
  );
}
