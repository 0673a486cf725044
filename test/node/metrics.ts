// Reading the proxy's Prometheus text in the node suite.

/** The sum of the samples of `metric` whose labels include all of `labels`. */
export function sampleSum(text: string, metric: string, labels: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The sum of the outrigger_requests_total samples whose labels include all of `labels`. */
export function requestCount(text: string, labels: Record<string, string>): number {
  return sampleSum(text, 'outrigger_requests_total', labels);
}
