// The value grammar the three programs share (docs/architecture.md): the
// injector's configuration and annotations, outrigger-iptables' flags, the
// proxy's environment and flags, and the CLI's flags all read their values
// here, so a value one program accepts is read the same way by the next.
// Every parser returns a Parsed<T>; each program wraps a failure in its own
// coded error (src/errors.ts, src/iptables/errors.ts, proxy/src/errors.ts).
export * from './cidrs.ts';
export * from './headers.ts';
export * from './kubernetes.ts';
export * from './lists.ts';
export * from './network.ts';
export * from './parsed.ts';
export * from './ports.ts';
export * from './scalars.ts';
