import type { LogFields, Logger } from '@sourced/core';

/** Log levels in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where lines go; a test can collect them. */
export type LogSink = (line: string) => void;

/**
 * Writes one JSON object per line: `time`, `level`, `msg`, then the fields. Errors are
 * reduced to name and message (no stack with driver internals unless level is debug), and
 * every Secret serializes as `[REDACTED]` through its toJSON.
 */
export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly sink: LogSink = (line) => process.stderr.write(`${line}\n`),
    private readonly bindings: LogFields = {},
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.bindings, ...fields });
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const record = { time: new Date().toISOString(), level, msg, ...this.bindings, ...fields };
    this.sink(JSON.stringify(record, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value)));
  }
}
