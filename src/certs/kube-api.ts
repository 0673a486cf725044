// The certificate manager's only door to the Kubernetes API: its Secret and its
// MutatingWebhookConfiguration, nothing else (matching the chart's RBAC).
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
} from '@kubernetes/client-node';
import type { Operation } from 'fast-json-patch';
import type { WebhookCaView } from './ca-bundle-patch.ts';

export interface SecretSnapshot {
  data: Record<string, string>;
  annotations: Record<string, string>;
  resourceVersion: string;
}

export interface CertificateStore {
  readSecret(): Promise<SecretSnapshot | undefined>;
  /** Creates the Secret; resolves false when someone else created it first (409). */
  createSecret(data: Record<string, string>, annotations: Record<string, string>): Promise<boolean>;
  /** Replaces data and our annotations at `resourceVersion`; resolves false on a write conflict. */
  updateSecret(snapshot: SecretSnapshot): Promise<boolean>;
  /** The webhooks' names and CA bundles, or undefined when the configuration does not exist. */
  readWebhooks(): Promise<WebhookCaView[] | undefined>;
  /** Applies a JSON patch to the configuration; resolves false when a `test` op failed or it vanished. */
  patchWebhooks(operations: Operation[]): Promise<boolean>;
  /** Records a Normal Event on the Secret (`kubectl describe secret` shows rotations). */
  recordEvent(reason: string, message: string): Promise<void>;
}

export interface StoreTarget {
  namespace: string;
  secretName: string;
  webhookConfigurationName: string;
}

/** In-cluster credentials when running in a pod, else the kubeconfig file (or $KUBECONFIG / ~/.kube/config). */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
  else config.loadFromDefault();
  return config;
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

export function kubernetesCertificateStore(
  config: KubeConfig,
  target: StoreTarget,
): CertificateStore {
  const core = config.makeApiClient(CoreV1Api);
  const admission = config.makeApiClient(AdmissionregistrationV1Api);
  const { namespace, secretName: name, webhookConfigurationName } = target;

  return {
    async readSecret() {
      let secret: V1Secret;
      try {
        secret = await core.readNamespacedSecret({ name, namespace });
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
      return {
        data: secret.data ?? {},
        annotations: secret.metadata?.annotations ?? {},
        resourceVersion: secret.metadata?.resourceVersion ?? '',
      };
    },

    async createSecret(data, annotations) {
      try {
        await core.createNamespacedSecret({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'kubernetes.io/tls',
            metadata: {
              name,
              namespace,
              annotations,
              labels: {
                'app.kubernetes.io/managed-by': 'outrigger',
                'app.kubernetes.io/component': 'webhook-certificates',
              },
            },
            data,
          },
        });
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return false;
        throw error;
      }
    },

    async updateSecret(snapshot) {
      // Read-modify-write with the resourceVersion we planned from: the apiserver refuses
      // the write (409) if another replica changed the Secret in between.
      const secret = await core.readNamespacedSecret({ name, namespace });
      if (secret.metadata?.resourceVersion !== snapshot.resourceVersion) return false;
      secret.data = snapshot.data;
      secret.metadata.annotations = snapshot.annotations;
      try {
        await core.replaceNamespacedSecret({ name, namespace, body: secret });
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return false;
        throw error;
      }
    },

    async readWebhooks() {
      let configuration: V1MutatingWebhookConfiguration;
      try {
        configuration = await admission.readMutatingWebhookConfiguration({
          name: webhookConfigurationName,
        });
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
      return (configuration.webhooks ?? []).map((webhook) => {
        const view: WebhookCaView = { name: webhook.name };
        if (webhook.clientConfig.caBundle) view.caBundle = webhook.clientConfig.caBundle;
        return view;
      });
    },

    async patchWebhooks(operations) {
      try {
        await admission.patchMutatingWebhookConfiguration({
          name: webhookConfigurationName,
          body: operations,
        });
        return true;
      } catch (error) {
        // 422: a `test` op failed (the webhooks moved); 404: the configuration is gone.
        const status = statusOf(error);
        if (status === 422 || status === 404 || status === 409) return false;
        throw error;
      }
    },

    async recordEvent(reason, message) {
      const now = new Date();
      await core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: 'v1', kind: 'Secret', name, namespace },
          reason,
          message,
          type: 'Normal',
          source: { component: 'outrigger-injector' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    },
  };
}
