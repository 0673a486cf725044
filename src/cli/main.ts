#!/usr/bin/env node
// The `outrigger` command: serve the webhook, inject manifests by hand, explain
// injection decisions, and prove injection on a cluster with a real pod.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigSource } from '../config/watch.ts';
import { MONITORING_PORT, WEBHOOK_PORT } from '../contract.ts';
import { errors, isOutriggerError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { DEFAULT_CONNECTION_BOUNDS } from '../webhook/connection-guard.ts';
import { addClusterCertificateFlags, list } from './certificate-flags.ts';
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

function port(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

function milliseconds(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value))
    throw new InvalidArgumentError('expected a positive number of milliseconds');
  return Number(value);
}

function seconds(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value))
    throw new InvalidArgumentError('expected a positive whole number of seconds');
  return Number(value);
}

function count(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value))
    throw new InvalidArgumentError('expected a positive number');
  return Number(value);
}

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

function labels(value: string): Record<string, string> {
  const parsed = parseLabelList(value);
  if (!parsed) throw new InvalidArgumentError('expected key=value pairs separated by commas');
  return parsed;
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
  .addOption(new Option('--port <n>', 'port to listen on').default(WEBHOOK_PORT).argParser(port))
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
    new Option('--request-timeout <ms>', 'time allowed for a whole request to arrive before a 408')
      .default(10_000)
      .argParser(milliseconds)
      .hideHelp(),
  )
  .addOption(
    new Option(
      '--monitoring-port <n>',
      `serve /metrics in plain HTTP on this port too (the chart uses ${MONITORING_PORT}; 0 picks a free one)`,
    ).argParser(port),
  )
  .addOption(
    new Option('--max-connections <n>', 'open connections at most; more are closed at once')
      .default(DEFAULT_CONNECTION_BOUNDS.maxConnections)
      .argParser(count),
  )
  .addOption(
    new Option('--handshake-timeout <ms>', 'time allowed for a TLS handshake')
      .default(DEFAULT_CONNECTION_BOUNDS.handshakeTimeoutMs)
      .argParser(milliseconds),
  )
  .addOption(
    new Option(
      '--shutdown-timeout <ms>',
      'after SIGTERM, time in-flight reviews get before every connection is closed',
    )
      .default(DEFAULT_CONNECTION_BOUNDS.shutdownTimeoutMs)
      .argParser(milliseconds),
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
      'webhook selectors and injector configuration. Exits 0 when every pod would be injected, ' +
      '3 when one would not, 4 when the creation of one would be refused, 1 on error.',
  )
  .argument(
    '[targets...]',
    'live mode: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, cronjob/NAME',
  )
  .option('-f, --filename <file>', 'offline mode: manifests to check; - for standard input')
  .option('-l, --selector <selector>', 'live mode: the pods matching this label selector')
  .option(
    '--namespace-labels <k=v,...>',
    'offline: labels of the target namespace (default: a Namespace in the input, or assume it is enabled)',
    labels,
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
    list,
  )
  .addOption(
    new Option('--timeout <seconds>', 'how long the pod may take to be Running and Ready')
      .default(120)
      .argParser(seconds),
  )
  .option('--kubeconfig <file>', 'kubeconfig (default: in-cluster or $KUBECONFIG)')
  .action(async (options) => {
    const { selftest } = await import('./selftest.ts');
    await selftest({ ...options, timeoutSeconds: options.timeout });
  });

program
  .command('selftest-app', { hidden: true })
  .description('The app container of the selftest pod: answers HTTP 200 until SIGTERM.')
  .addOption(new Option('--port <n>', 'port to listen on').default(8080).argParser(port))
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
