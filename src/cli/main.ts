#!/usr/bin/env node
// The `outrigger` command: serve the webhook, inject manifests by hand, explain
// injection decisions, and prove injection on a cluster with a real pod.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ConfigSource } from '../config/watch.ts';
import { errors, isOutriggerError } from '../errors.ts';
import { MONITORING_PORT, WEBHOOK_PORT } from '../shared/contract.ts';
import { parseListeningPort, splitList, wholeNumber } from '../shared/grammar/index.ts';
import { VERSION } from '../version.ts';
import { DEFAULT_CONNECTION_BOUNDS } from '../webhook/connection-guard.ts';
import { addClusterCertificateFlags } from './certificate-flags.ts';
import {
  type CheckResult,
  checkDocuments,
  checkExitCode,
  formatCheck,
  parseLabelList,
} from './check.ts';
import { injectText, joinInputs } from './inject.ts';
import { readDocuments, readInputs } from './read-input.ts';
import { serve } from './serve.ts';
import { valueOption } from './value-option.ts';

// Timers take at most 2^31 - 1 ms; a longer one would fire at once.
const milliseconds = wholeNumber(1, 2_147_483_647, 'milliseconds');
const seconds = wholeNumber(1, 2_147_483, 'seconds');
const count = wholeNumber(1, 999_999_999);

/**
 * What `inject` and `uninject` print: each input's notes on stderr, the edited
 * documents on stdout (or to --output), every problem on stderr and exit 1 if any.
 */
function writeEdited<R extends { output: string; problems: string[] }>(
  reports: R[],
  notes: (report: R) => string[],
  outputFile: string | undefined,
): void {
  for (const report of reports) {
    for (const line of notes(report)) process.stderr.write(`${line}\n`);
  }
  const output = joinInputs(reports.map((r) => r.output));
  if (outputFile) writeFileSync(outputFile, output);
  else process.stdout.write(output);
  const problems = reports.flatMap((r) => r.problems);
  for (const line of problems) process.stderr.write(`outrigger: ${line}\n`);
  if (problems.length > 0) process.exitCode = 1;
}

const program = new Command('outrigger')
  .description(
    'Kubernetes sidecar injector: the admission webhook, and its engine as a command line.',
  )
  .version(VERSION)
  .showHelpAfterError();

addClusterCertificateFlags(
  program
    .command('serve')
    .description(
      'Run the mutating admission webhook over HTTPS (POST /inject, /healthz, /readyz, /metrics).',
    ),
)
  .addOption(
    valueOption('--port <n>', 'port to listen on', parseListeningPort).default(WEBHOOK_PORT),
  )
  .option('--host <address>', 'address to listen on', '0.0.0.0')
  .option('--tls-cert <file>', 'serving certificate (PEM); reloaded when it changes')
  .option('--tls-key <file>', 'serving key (PEM); reloaded when it changes')
  .option(
    '--certs-dir <dir>',
    'where to write the generated CA and certificate when no files are given',
  )
  .option('--config <file>', 'injection configuration (YAML); reloaded when it changes')
  .addOption(
    new Option('--namespace <ns>', 'the injector’s own namespace, never injected').env(
      'POD_NAMESPACE',
    ),
  )
  .addOption(
    new Option('--log-level <level>', 'log level')
      .choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .default('info'),
  )
  .addOption(
    valueOption(
      '--request-timeout <ms>',
      'time allowed for a whole request to arrive before a 408',
      milliseconds,
    )
      .default(10_000)
      .hideHelp(),
  )
  .addOption(
    valueOption(
      '--monitoring-port <n>',
      `serve /metrics in plain HTTP on this port too (the chart uses ${MONITORING_PORT}; 0 picks a free one)`,
      parseListeningPort,
    ),
  )
  .addOption(
    valueOption(
      '--max-connections <n>',
      'open connections at most; more are closed at once',
      count,
    ).default(DEFAULT_CONNECTION_BOUNDS.maxConnections),
  )
  .addOption(
    valueOption(
      '--handshake-timeout <ms>',
      'time allowed for a TLS handshake',
      milliseconds,
    ).default(DEFAULT_CONNECTION_BOUNDS.handshakeTimeoutMs),
  )
  .addOption(
    valueOption(
      '--shutdown-timeout <ms>',
      'after SIGTERM, time in-flight reviews get before every connection is closed',
      milliseconds,
    ).default(DEFAULT_CONNECTION_BOUNDS.shutdownTimeoutMs),
  )
  .action(async (options) => {
    if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) {
      program.error('error: --tls-cert and --tls-key go together');
    }
    await serve(options);
  });

program
  .command('inject')
  .description(
    'Inject the sidecar into the pod templates of Kubernetes manifests (like istioctl kube-inject), ' +
      'editing them in place: comments, order and style survive; untouched documents are copied as they are. ' +
      'Exits 1 when any pod would be refused, after reporting every reason.',
  )
  .requiredOption(
    '-f, --filename <file>',
    'manifests to inject: a file, a directory (its .yaml/.yml/.json files) or - for standard input; repeatable',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option('-R, --recursive', 'with a directory, its subdirectories too')
  .option('-o, --output <file>', 'write the result here instead of standard output')
  .option('--config <file>', 'injection configuration (YAML)')
  .option('-n, --namespace <ns>', 'namespace for objects that do not name one', 'default')
  .action(async (options) => {
    const config = (await ConfigSource.load(options.config)).current;
    const reports = (await readInputs(options.filename, options.recursive === true)).map(
      ({ source, text }) => injectText(text, source, config, options.namespace),
    );
    writeEdited(reports, (r) => r.skipped, options.output);
  });

program
  .command('uninject')
  .description(
    'Take out of the pod templates of Kubernetes manifests exactly what injection added, as their ' +
      'sidecar.outrigger.dev/status annotation lists it, and put back the app probes it rewrote; edits ' +
      'in place like inject. Templates without the annotation are left as they are (a note on stderr). ' +
      'Exits 1 when a status annotation cannot be read.',
  )
  .requiredOption(
    '-f, --filename <file>',
    'manifests to uninject: a file, a directory (its .yaml/.yml/.json files) or - for standard input; repeatable',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option('-R, --recursive', 'with a directory, its subdirectories too')
  .option('-o, --output <file>', 'write the result here instead of standard output')
  .action(async (options) => {
    const { uninjectText } = await import('./uninject.ts');
    const reports = (await readInputs(options.filename, options.recursive === true)).map(
      ({ source, text }) => uninjectText(text, source),
    );
    writeEdited(reports, (r) => r.notes, options.output);
  });

program
  .command('check')
  .description(
    'Explain, per pod template, whether the webhook would inject it and why: offline with -f, or ' +
      'live (pod/NAME, deploy/NAME, ... or -l SELECTOR) against the cluster’s namespace labels, ' +
      'webhook selectors and injector configuration; for an injected pod, which traffic policy its ' +
      'proxy gets and (live, or when the input holds the ConfigMap) whether it exists and is valid. ' +
      'Exits 0 when every pod would be injected, 3 when one would not, 4 when the creation of one ' +
      'would be refused, 5 when one’s policy ConfigMap is missing or invalid, 1 on error.',
  )
  .argument(
    '[targets...]',
    'live mode: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, cronjob/NAME',
  )
  .option('-f, --filename <file>', 'offline mode: manifests to check; - for standard input')
  .option('-l, --selector <selector>', 'live mode: the pods matching this label selector')
  .addOption(
    valueOption(
      '--namespace-labels <k=v,...>',
      'offline: labels of the target namespace (default: a Namespace in the input, or assume it is enabled)',
      parseLabelList,
    ),
  )
  .option(
    '--config <file>',
    'injection configuration (YAML); live mode reads the injector’s ConfigMap when not given',
  )
  .option(
    '-n, --namespace <ns>',
    'namespace of the objects (offline: for those that name none)',
    'default',
  )
  .option('--injector-namespace <ns>', 'the injector’s own namespace, never injected')
  .option('--kubeconfig <file>', 'live mode: kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
  .option('--json', 'print the results as JSON')
  .action(async (targets: string[], options) => {
    const live = targets.length > 0 || options.selector !== undefined;
    if (live === (options.filename !== undefined)) {
      throw errors.INVALID_FLAG(
        'check',
        [...targets, options.filename ?? ''].join(' ').trim(),
        'give either -f FILE (offline) or pod/NAME, deploy/NAME, ... or -l SELECTOR (live)',
      );
    }
    let results: CheckResult[];
    if (live) {
      const { checkLive } = await import('./check-live.ts');
      results = await checkLive({ ...options, targets });
    } else {
      const config = (await ConfigSource.load(options.config)).current;
      results = checkDocuments(await readDocuments(options.filename), config, {
        defaultNamespace: options.namespace,
        namespaceLabels: options.namespaceLabels,
        injectorNamespace: options.injectorNamespace,
      });
    }
    process.stdout.write(
      options.json ? `${JSON.stringify(results, null, 2)}\n` : formatCheck(results),
    );
    process.exitCode = checkExitCode(results);
  });

program
  .command('proxy-status')
  .description(
    'List the injected pods with their proxy image and injector version against what the injector in ' +
      'the cluster gives new pods now; stale ones come with the command that re-creates them. Exits 3 when one is stale.',
  )
  .option('-n, --namespace <ns>', 'only this namespace (default: all)')
  .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
  .option('--json', 'print the rows as JSON')
  .action(async (options) => {
    const { formatProxyStatus, judgePods, readCluster } = await import('./proxy-status.ts');
    const { injector, pods } = await readCluster(options);
    const rows = judgePods(pods, injector);
    process.stdout.write(
      options.json
        ? `${JSON.stringify({ injector, pods: rows }, null, 2)}\n`
        : formatProxyStatus(rows, injector),
    );
    if (rows.some((r) => r.stale.length > 0)) process.exitCode = 3;
  });

program
  .command('version')
  .description(
    'Print the CLI’s version and, from the cluster, the injector’s and the proxy versions found in pods ' +
      '(--client for the CLI alone).',
  )
  .option('--client', 'the CLI only; no cluster access')
  .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG or ~/.kube/config)')
  .action(async (options) => {
    if (options.client) {
      process.stdout.write(`client: outrigger ${VERSION}\n`);
      return;
    }
    const { formatVersion, judgePods, readCluster } = await import('./proxy-status.ts');
    const { injector, pods } = await readCluster(options);
    process.stdout.write(formatVersion(injector, judgePods(pods, injector)));
  });

program
  .command('validate-config')
  .description(
    'Check an injection configuration as `serve` loads it; exits 0 when valid, 1 with the reason ' +
      'when the injector would refuse it (what the chart’s pre-install/pre-upgrade hook runs).',
  )
  .requiredOption('--config <file>', 'injection configuration (YAML)')
  .action(async (options) => {
    const { validateConfig } = await import('./validate-config.ts');
    process.stdout.write(await validateConfig(options.config));
  });

const policy = program
  .command('policy')
  .description('Work with traffic policy documents (docs/policy.md).');

policy
  .command('validate')
  .description(
    'Check traffic policy documents offline, with the parser the proxy runs: bare TrafficPolicy ' +
      'documents, or ConfigMaps carrying one under policy.yaml (other documents are passed over with ' +
      'a note). Prints each valid policy on stdout and every problem, with its file and path, on ' +
      'stderr. Exits 0 when every policy is valid, 1 when one is not (or an input cannot be read), ' +
      '3 when the input holds no policy.',
  )
  .requiredOption(
    '-f, --filename <file>',
    'policies to check: a file, a directory (its .yaml/.yml/.json files) or - for standard input; repeatable',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option('-R, --recursive', 'with a directory, its subdirectories too')
  .action(async (options) => {
    const { formatPolicyValidation, validatePolicyInputs } = await import('./policy-validate.ts');
    const inputs = await readInputs(options.filename, options.recursive === true);
    const { stdout, stderr, exitCode } = formatPolicyValidation(validatePolicyInputs(inputs));
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    process.exitCode = exitCode;
  });

program
  .command('selftest')
  .description(
    'Create a real pod in a namespace labelled for injection, wait until it runs injected and Ready, ' +
      'then delete it; each step is printed (what `helm test` runs). Exits 1 on failure or timeout.',
  )
  .requiredOption(
    '-n, --namespace <ns>',
    'namespace labelled outrigger-injection=enabled to create the pod in',
  )
  .requiredOption(
    '--image <ref>',
    'image of the pod’s app container: the injector image (it runs `outrigger selftest-app`)',
  )
  .addOption(
    new Option('--image-pull-policy <policy>', 'imagePullPolicy of the app container').choices([
      'Always',
      'IfNotPresent',
      'Never',
    ]),
  )
  .option(
    '--image-pull-secrets <names>',
    'Secrets in that namespace for pulling the image (comma-separated)',
    splitList,
  )
  .addOption(
    valueOption(
      '--timeout <seconds>',
      'how long the pod may take to be Running and Ready',
      seconds,
    ).default(120),
  )
  .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster or $KUBECONFIG)')
  .action(async (options) => {
    const { selftest } = await import('./selftest.ts');
    await selftest({ ...options, timeoutSeconds: options.timeout });
  });

program
  .command('selftest-app', { hidden: true })
  .description('The app container of the selftest pod: answers HTTP 200 until SIGTERM.')
  .addOption(valueOption('--port <n>', 'port to listen on', parseListeningPort).default(8080))
  .action(async (options) => {
    const { serveSelftestApp } = await import('./selftest-app.ts');
    await serveSelftestApp(options.port);
  });

try {
  await program.parseAsync();
} catch (err) {
  if (isOutriggerError(err)) {
    process.stderr.write(`outrigger: ${err.message} [${err.code}]\n`);
    process.exit(1);
  }
  throw err;
}
