// The injector's version, written into every status annotation. A test keeps it
// equal to package.json's.
export const VERSION = '0.1.0';
