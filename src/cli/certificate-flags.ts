// The `serve` flags that switch on cluster certificate management, turned into the
// options src/certs/cluster-serving.ts takes. Flags are the CLI's business, so they
// live here with the other commands; the chart's Deployment args name these flags.
import { type Command, Option } from 'commander';
import type { ClusterCertificateOptions } from '../certs/cluster-serving.ts';
import { CERTIFICATE_MODES } from '../certs/modes.ts';
import { errors } from '../errors.ts';
import { positiveNumber, splitList } from '../shared/grammar/index.ts';
import { valueOption } from './value-option.ts';

const seconds = positiveNumber('seconds');
const days = positiveNumber('days');

export function addClusterCertificateFlags(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--certs-mode <mode>',
        'where the serving certificate comes from: files (--tls-cert/--tls-key or a generated localhost pair), ' +
          'auto (generated and rotated in a Secret, caBundle kept current), provided (a Secret you made), ' +
          'cert-manager (a Secret cert-manager issues)',
      )
        .choices(['files', ...CERTIFICATE_MODES])
        .default('files'),
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig for the certificate manager (default: in-cluster or $KUBECONFIG)',
    )
    .option(
      '--service-name <name>',
      'the Service in front of the injector (its DNS names go into the leaf)',
      'outrigger',
    )
    .option('--secret-name <name>', 'Secret holding the certificates (default: <service-name>-tls)')
    .option(
      '--webhook-config-name <name>',
      'MutatingWebhookConfiguration whose caBundle the injector keeps current',
    )
    .option(
      '--cert-dns-names <names>',
      'extra DNS names for the serving certificate (comma-separated)',
      splitList,
    )
    .option(
      '--cert-ips <ips>',
      'IP addresses for the serving certificate (comma-separated)',
      splitList,
    )
    .addOption(
      valueOption(
        '--cert-recheck-seconds <n>',
        'seconds between re-checks of the Secret and caBundle',
        seconds,
      ).default(60),
    )
    .addOption(
      valueOption(
        '--cert-leaf-validity-days <n>',
        'serving certificate lifetime in days (auto mode)',
        days,
      ).default(365),
    )
    .addOption(
      valueOption('--cert-ca-validity-days <n>', 'CA lifetime in days (auto mode)', days).default(
        3650,
      ),
    );
}

/** The parsed flags (commander camel-cases them). */
export interface ClusterCertificateFlags {
  certsMode?: string;
  kubeconfig?: string;
  namespace?: string;
  serviceName?: string;
  secretName?: string;
  webhookConfigName?: string;
  certDnsNames?: string[];
  certIps?: string[];
  certRecheckSeconds?: number;
  certLeafValidityDays?: number;
  certCaValidityDays?: number;
}

/** The cluster options from parsed flags, or undefined for --certs-mode files. */
export function clusterCertificateOptions(
  flags: ClusterCertificateFlags,
): ClusterCertificateOptions | undefined {
  const mode = CERTIFICATE_MODES.find((m) => m === flags.certsMode);
  if (!mode) return undefined;
  // Coded errors, not commander's: these are found after parsing, where main.ts
  // prints an OutriggerError as one line and commander's would be a stack trace.
  if (!flags.namespace)
    throw errors.MISSING_FLAG('--namespace (or $POD_NAMESPACE)', `--certs-mode ${mode}`);
  if (!flags.webhookConfigName && mode !== 'cert-manager') {
    throw errors.MISSING_FLAG('--webhook-config-name', `--certs-mode ${mode}`);
  }
  const serviceName = flags.serviceName ?? 'outrigger';
  return {
    certsMode: mode,
    kubeconfig: flags.kubeconfig,
    namespace: flags.namespace,
    serviceName,
    secretName: flags.secretName ?? `${serviceName}-tls`,
    webhookConfigName: flags.webhookConfigName ?? '',
    certDnsNames: flags.certDnsNames,
    certIps: flags.certIps,
    certRecheckSeconds: flags.certRecheckSeconds,
    certLeafValidityDays: flags.certLeafValidityDays,
    certCaValidityDays: flags.certCaValidityDays,
  };
}
