// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../package.json') as { version: string };

/** The daemon's version, from its package.json. */
export const VERSION: string = pkg.version;
