// Values in Kubernetes' own grammars: resource quantities, image references.
import { fail, ok, type Parsed } from './parsed.ts';

export const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[mkMGTPE]|[KMGTPE]i)?$/;
const SUFFIX_SCALE: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * A Kubernetes resource quantity (`250m`, `64Mi`, `1.5`, `1e3`), returned as its
 * numeric value so requests and limits can be compared.
 */
export function parseQuantity(text: string): Parsed<number> {
  const match = QUANTITY.exec(text);
  if (!match) return fail('expected a Kubernetes quantity such as 100m, 0.5, 128Mi or 1Gi');
  const number = Number(match[1]);
  const suffix = match[3] ?? '';
  if (/^[eE]/.test(suffix)) return ok(number * 10 ** Number(suffix.slice(1)));
  return ok(number * (SUFFIX_SCALE[suffix] ?? 1));
}

/** A quantity kept as the text the user wrote (what goes into the pod spec). */
export function parseQuantityText(text: string): Parsed<string> {
  const parsed = parseQuantity(text);
  return parsed.ok ? ok(text) : parsed;
}

/** A container image reference: no whitespace, not empty. */
export function parseImage(text: string): Parsed<string> {
  if (text === '' || /\s/.test(text))
    return fail(
      'expected a container image reference such as registry.example/outrigger/proxy:1.0',
    );
  return ok(text);
}
