// The policy document's apiVersion and kind, in a module that imports nothing:
// the proxy builds its empty policy from them without loading TypeBox, which
// only a proxy that was given a policy file needs: importing schema.js (the
// build) into a process with one server listening added 18-19 MiB resident,
// names.js 0.4 MiB.
export const POLICY_API_VERSION = 'outrigger.dev/v1alpha1';
export const POLICY_KIND = 'TrafficPolicy';
