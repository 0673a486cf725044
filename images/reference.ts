// Image references as the builder writes them into archives and images.json:
// `<registry>/<name>:<tag>`. The chart composes the same shape from its values
// (charts/outrigger/templates/_helpers.tpl), adding `@<digest>` when one is set.

/** A registry host with an optional port and path: `ghcr.io/outrigger`, `localhost:5000/team`. */
const REGISTRY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;
/** The OCI distribution spec's tag grammar. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const DEFAULT_REGISTRY = 'ghcr.io/outrigger';

export function imageReference(registry: string, name: string, tag: string): string {
  const trimmed = registry.replace(/\/+$/, '');
  if (!REGISTRY.test(trimmed)) {
    throw new Error(`--registry ${JSON.stringify(registry)} is not a registry host and path`);
  }
  if (!TAG.test(tag)) {
    throw new Error(
      `--tag ${JSON.stringify(tag)} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]*)`,
    );
  }
  return `${trimmed}/${name}:${tag}`;
}
