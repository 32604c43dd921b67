/** A configuration problem, naming where the bad value came from. Its own module so the CLI's client commands can catch it without loading the schema. */
export class ConfigError extends Error {}
