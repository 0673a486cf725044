// How the chart names its three images: `registry/repository:tag[@digest]` per
// image, with global.imageRegistry replacing every registry, so a private
// registry is one value. Rendered by the real helm (test/e2e/tools/build.sh
// builds it); the ConfigMap's config.yaml is then read by the injector's own
// config parser, so the proxy and init references reach the pods as rendered.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { toolPaths } from '../e2e/harness/tools.ts';
import { skipUnless } from '../support/prerequisites.ts';

const chart = fileURLToPath(new URL('../../charts/outrigger', import.meta.url));
const helm = toolPaths().helm;
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

interface Rendered {
  injector: string;
  proxy: string;
  init: string;
  proxyPullPolicy: string;
}

function helmTemplate(sets: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(
      helm,
      ['template', 'outrigger', chart, ...sets.flatMap((s) => ['--set', s])],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const failed = err as { status: number; stdout: string; stderr: string };
    return { code: failed.status, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function render(...sets: string[]): Rendered {
  const result = helmTemplate(sets);
  assert.equal(result.code, 0, result.stderr);
  const docs = parseAllDocuments(result.stdout).map((doc) => doc.toJS());
  const deployment = docs.find((doc) => doc?.kind === 'Deployment');
  const configMap = docs.find((doc) => doc?.kind === 'ConfigMap');
  const config = parseConfig(configMap.data['config.yaml'], 'rendered ConfigMap');
  return {
    injector: deployment.spec.template.spec.containers[0].image,
    proxy: config.proxy.image,
    init: config.init.image,
    proxyPullPolicy: config.proxy.imagePullPolicy,
  };
}

describe('chart image references', { skip: skipUnless('helm') }, () => {
  it('default to ghcr.io/outrigger and the chart appVersion, pulled IfNotPresent', () => {
    assert.deepEqual(render(), {
      injector: 'ghcr.io/outrigger/injector:0.1.0',
      proxy: 'ghcr.io/outrigger/proxy:0.1.0',
      init: 'ghcr.io/outrigger/init:0.1.0',
      proxyPullPolicy: 'IfNotPresent',
    });
  });

  it('move to a private registry with the one value global.imageRegistry', () => {
    const rendered = render('global.imageRegistry=registry.example.test:5000/team/');
    assert.equal(rendered.injector, 'registry.example.test:5000/team/injector:0.1.0');
    assert.equal(rendered.proxy, 'registry.example.test:5000/team/proxy:0.1.0');
    assert.equal(rendered.init, 'registry.example.test:5000/team/init:0.1.0');
  });

  it('take registry, repository, tag and digest per image, keeping the tag before the digest', () => {
    const rendered = render(
      'image.registry=one.example.test',
      'image.repository=hooks/outrigger',
      'proxyImage.tag=v2',
      `proxyImage.digest=${DIGEST}`,
      'proxyImage.pullPolicy=Always',
      'initImage.registry=',
      'initImage.repository=docker.io/me/init',
    );
    assert.equal(rendered.injector, 'one.example.test/hooks/outrigger:0.1.0');
    assert.equal(rendered.proxy, `ghcr.io/outrigger/proxy:v2@${DIGEST}`);
    assert.equal(rendered.proxyPullPolicy, 'Always');
    assert.equal(
      rendered.init,
      'docker.io/me/init:0.1.0',
      'an empty registry leaves the repository whole',
    );
  });

  it('keep the rest of the injection config as given', () => {
    const result = helmTemplate([
      'injection.proxy.logLevel=debug',
      'injection.init.resources.limits.cpu=250m',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const configMap = parseAllDocuments(result.stdout)
      .map((doc) => doc.toJS())
      .find((doc) => doc?.kind === 'ConfigMap');
    const config = parseConfig(configMap.data['config.yaml'], 'rendered ConfigMap');
    assert.equal(config.proxy.logLevel, 'debug');
    assert.equal(config.proxy.image, 'ghcr.io/outrigger/proxy:0.1.0');
    assert.equal(config.init.resources.limits?.cpu, '250m');
  });

  it('accept a parent chart’s other globals, and refuse a malformed digest or an image in injection', () => {
    assert.equal(
      helmTemplate(['global.storageClass=fast', 'global.imageRegistry=r.example.test']).code,
      0,
    );
    for (const [set, message] of [
      ['proxyImage.digest=latest', /digest/],
      ['injection.proxy.image=example.test/proxy:1', /image/],
      ['initImage.repositry=init', /repositry/],
    ] as const) {
      const result = helmTemplate([set]);
      assert.notEqual(result.code, 0, `${set} was accepted`);
      assert.match(result.stderr, message);
    }
  });
});
