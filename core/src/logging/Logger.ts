/** Structured fields of a log line. Secrets among them print as `[REDACTED]`. */
export type LogFields = Record<string, unknown>;

/** The structured logger every component receives. Lines are JSON objects. */
export interface Logger {
  /** Logs a detail useful when tracking a problem down; dropped at the default level. */
  debug(message: string, fields?: LogFields): void;
  /** Logs a normal event worth a line. */
  info(message: string, fields?: LogFields): void;
  /** Logs something that went wrong and was worked around. */
  warn(message: string, fields?: LogFields): void;
  /** Logs a failure someone should look at. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

/** A logger that drops everything; the default where none is given. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};
