// Offline injection names the workload that holds the template: a template has
// no ownerReferences, so OUTRIGGER_WORKLOAD_NAME comes from the enclosing
// Deployment, StatefulSet, DaemonSet, Job or CronJob (the webhook reads the
// pod's controller instead; test/inject/proxy-env.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { injectText } from '../../src/cli/inject.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { PROXY_ENV } from '../../src/shared/contract.ts';

const template = `
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: app, image: example.com/app:1}]`;

const manifests = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:${template}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:${template}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template:${template}
---
apiVersion: batch/v1
kind: Job
metadata: {generateName: migrate-}
spec:
  template:${template}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:${template.replaceAll('\n', '\n    ')}
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: app, image: example.com/app:1}]
`;

test('outrigger inject names the enclosing workload in OUTRIGGER_WORKLOAD_NAME', () => {
  const report = injectText(manifests, 'workloads.yaml', defaultConfig(), 'default');
  assert.deepEqual(report.problems, []);
  const workloadNames = parseAllDocuments(report.output).map((document) => {
    const object = document.toJS();
    const spec =
      object.kind === 'Pod'
        ? object.spec
        : object.kind === 'CronJob'
          ? object.spec.jobTemplate.spec.template.spec
          : object.spec.template.spec;
    const proxy = spec.initContainers.find((c: { name: string }) => c.name === 'outrigger-proxy');
    return proxy.env.find((e: { name: string }) => e.name === PROXY_ENV.workloadName).value;
  });
  assert.deepEqual(workloadNames, ['web', 'db', 'agent', 'migrate', 'nightly', 'debug']);
});
