// Helm values that point the chart at exactly the images `npm run images` built
// and cluster:up imported: each reference split into registry, repository and
// tag, pinned to its digest. A rebuilt image has a new digest, so running
// cluster:up again rolls the injector and injects the new proxy and init.
// Usage: node cluster/chart-values.ts dist/images  > values.yaml
import { stringify } from 'yaml';
import { readImagesJson } from '../images/images-json.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: chart-values.ts <images directory>');
const images = readImagesJson(dir);

function values(name: string) {
  const image = images.find((i) => i.name === name);
  if (image === undefined) throw new Error(`no ${name} image in ${dir}; run npm run images`);
  const match = /^(.+)\/([^/:]+):([^/:@]+)$/.exec(image.reference);
  if (match === null) throw new Error(`cannot split image reference ${image.reference}`);
  const [, registry, repository, tag] = match;
  return { registry, repository, tag, digest: image.digest, pullPolicy: 'IfNotPresent' };
}

process.stdout.write(
  stringify({ image: values('injector'), proxyImage: values('proxy'), initImage: values('init') }),
);
