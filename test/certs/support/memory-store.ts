// An in-memory stand-in for the two objects the certificate manager's kube-api
// seam (src/certs/kube-api.ts, CertificateStore) reaches: one Secret and one
// MutatingWebhookConfiguration, kept the way the apiserver keeps them. Every
// write bumps resourceVersion; a create of an existing Secret is refused (409);
// an update planned from an older resourceVersion is refused (409); a JSON patch
// is applied by fast-json-patch, and a failing `test` op refuses all of it (422).
// Several managers share one MemoryApiServer, each through its own store(), and
// a test can run code between any two calls (`before`) to force an interleaving.
// The real-apiserver suite (test/certs/manager.test.ts) checks the same seam end
// to end; this one makes the races happen on purpose.
import type { V1MutatingWebhook } from '@kubernetes/client-node';
import jsonPatch, { type Operation } from 'fast-json-patch';
import type { WebhookCaView } from '../../../src/certs/ca-bundle-patch.ts';
import type { CertificateStore, SecretSnapshot } from '../../../src/certs/kube-api.ts';

export type StoreCall =
  | 'readSecret'
  | 'createSecret'
  | 'updateSecret'
  | 'readWebhooks'
  | 'patchWebhooks'
  | 'recordEvent';

interface StoredSecret {
  data: Record<string, string>;
  annotations: Record<string, string>;
  resourceVersion: number;
}

export class MemoryApiServer {
  #secret: StoredSecret | undefined;
  #webhooks: { webhooks: Array<Pick<V1MutatingWebhook, 'name' | 'clientConfig'>> } | undefined;
  #version = 0;
  /** Every call, in order, with the replica that made it. */
  readonly calls: Array<{ replica: string; call: StoreCall }> = [];
  readonly events: Array<{ replica: string; reason: string; message: string }> = [];
  /** Runs before each call is served; a test may await here to hold a replica back. */
  before: (replica: string, call: StoreCall) => void | Promise<void> = () => {};

  constructor(webhookNames: readonly string[] = ['first.test.outrigger.dev']) {
    this.#webhooks = {
      webhooks: webhookNames.map((name) => ({ name, clientConfig: { url: 'https://192.0.2.1' } })),
    };
  }

  /** The Secret as `kubectl get -o json` would show it, or undefined. */
  get secret(): Readonly<StoredSecret> | undefined {
    return this.#secret && structuredClone(this.#secret);
  }

  /** Writes the Secret as another client would (kubectl, helm, a second manager): the version moves. */
  writeSecret(data: Record<string, string>, annotations: Record<string, string>): void {
    this.#secret = {
      data: { ...data },
      annotations: { ...annotations },
      resourceVersion: ++this.#version,
    };
  }

  /** Each webhook's caBundle, decoded. */
  caBundles(): string[] {
    return (this.#webhooks?.webhooks ?? []).map((webhook) =>
      Buffer.from(webhook.clientConfig.caBundle ?? '', 'base64').toString('utf8'),
    );
  }

  store(replica: string): CertificateStore {
    const enter = async (call: StoreCall) => {
      this.calls.push({ replica, call });
      await this.before(replica, call);
    };
    return {
      readSecret: async (): Promise<SecretSnapshot | undefined> => {
        await enter('readSecret');
        const secret = this.#secret;
        if (!secret) return undefined;
        return {
          data: { ...secret.data },
          annotations: { ...secret.annotations },
          resourceVersion: String(secret.resourceVersion),
        };
      },
      createSecret: async (data, annotations) => {
        await enter('createSecret');
        if (this.#secret) return false;
        this.writeSecret(data, annotations);
        return true;
      },
      updateSecret: async (snapshot) => {
        await enter('updateSecret');
        if (!this.#secret || String(this.#secret.resourceVersion) !== snapshot.resourceVersion)
          return false;
        this.writeSecret(snapshot.data, snapshot.annotations);
        return true;
      },
      readWebhooks: async (): Promise<WebhookCaView[] | undefined> => {
        await enter('readWebhooks');
        return this.#webhooks?.webhooks.map((webhook) => {
          const view: WebhookCaView = { name: webhook.name };
          if (webhook.clientConfig.caBundle) view.caBundle = webhook.clientConfig.caBundle;
          return view;
        });
      },
      patchWebhooks: async (operations: Operation[]) => {
        await enter('patchWebhooks');
        if (!this.#webhooks) return false;
        try {
          // Applied to a copy and kept only whole, as the apiserver applies a patch.
          const patched = jsonPatch.applyPatch(
            structuredClone(this.#webhooks),
            operations,
            true,
            false,
          );
          this.#webhooks = patched.newDocument;
          return true;
        } catch (error) {
          if (error instanceof jsonPatch.JsonPatchError) return false;
          throw error;
        }
      },
      recordEvent: async (reason, message) => {
        await enter('recordEvent');
        this.events.push({ replica, reason, message });
      },
    };
  }
}
