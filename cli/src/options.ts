/**
 * What the commands' flags parse into, and the parsers commander runs on their values. Light on
 * purpose (commander only): the program's definitions import it, the commands' code reads the types.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

/** The flags every client command takes: where the daemon is, how to reach it, where output goes. */
export interface ClientOptions {
  address: string;
  ca?: string;
  cert?: string;
  key?: string;
  timeout?: number;
  json?: boolean;
  output?: string;
  /** false with --no-color. */
  color: boolean;
}

/** `sourced encrypt`'s flags (the value itself comes from stdin or a prompt, never from a flag). */
export interface EncryptOptions extends ClientOptions {
  dataSourceId: string;
  field: string;
  keyProvider?: string;
  keyId?: string;
}

export interface DiscoverOptions extends ClientOptions {
  includeSchema: string[];
  excludeSchema: string[];
  includeTable: string[];
  excludeTable: string[];
  strategy?: Strategy;
  batchSize: number;
  maxEntities: number;
  resumeAfter: string;
  format?: 'tree' | 'text' | 'ndjson';
  /** Ask for routines' sources (include_routine_bodies). */
  routineBodies?: boolean;
}

export interface PreviewOptions extends ClientOptions {
  table: TableName;
  column: string[];
  limit: number;
  strategy?: Strategy;
  format?: 'table' | 'ndjson';
}

export interface ProfileOptions extends ClientOptions {
  table: TableName;
  column: string[];
  mode: 'statistics' | 'sample';
  sampleRows: number;
}

/** A `--table` value: the text as given and its two names. */
export interface TableName {
  text: string;
  schema: string;
  name: string;
}

export const STRATEGIES = ['conservative', 'balanced', 'aggressive', 'adaptive'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** A repeatable flag: each use adds its value. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A repeatable flag's option, empty unless given; `none` says in the help what empty means. */
export function listOption(flags: string, description: string, none: string): Option {
  return new Option(flags, `${description}; repeatable`).argParser(collect).default([], none);
}

/** A whole number ≥ 0. */
export function wholeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError('It is not a whole number.');
  return n;
}

/** Seconds > 0. */
export function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n > 0)) throw new InvalidArgumentError('It is not a positive number of seconds.');
  return n;
}

/** A port, 0 to 65535. */
export function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('It is not a port number (0-65535).');
  return n;
}

/** One of `choices`, in any case; `prefix` may lead (`DISCOVERY_STRATEGY_BALANCED`). */
export function oneOf<T extends string>(choices: readonly T[], prefix = ''): (value: string) => T {
  return (value) => {
    let name = value.trim().toLowerCase();
    if (prefix && name.startsWith(prefix.toLowerCase())) name = name.slice(prefix.length);
    if (!(choices as readonly string[]).includes(name)) throw new InvalidArgumentError(`Allowed choices are ${choices.join(', ')}.`);
    return name as T;
  };
}

/** An option whose value is one of `choices` (listed in the help), in any case. */
export function choiceOption(flags: string, description: string, choices: readonly string[], prefix = ''): Option {
  return new Option(flags, description).choices(choices).argParser(oneOf(choices, prefix));
}

/** `schema.name`, `"my.schema"."my table"`: the two names (a quoted name may hold a dot; `""` is a quote). */
export function tableName(text: string): TableName {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === '.' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  if (quoted || parts.length !== 2 || !parts[0] || !parts[1])
    throw new InvalidArgumentError('It is not SCHEMA.NAME (quote a name that holds a dot: \'"my.schema".orders\').');
  return { text, schema: parts[0], name: parts[1] };
}

/** The output flags of a client command: --json (described per command), --output, --no-color. */
export function outputOptions(command: Command, json: string): Command {
  return command
    .optionsGroup('Output:')
    .option('--json', json)
    .option('-o, --output <FILE>', 'write the output to FILE (created or truncated) instead of stdout; progress stays on stderr')
    .option('--no-color', 'no colours, plain ASCII marks (also NO_COLOR=1; FORCE_COLOR=1 forces colours)');
}

/** The flags that say where the daemon is and how to reach it. */
export function daemonOptions(command: Command): Command {
  return command
    .optionsGroup('The daemon:')
    .addOption(new Option('--address <HOST:PORT>', 'where it listens').env('SOURCED_ADDRESS').default('127.0.0.1:50051'))
    .addOption(new Option('--ca <FILE>', 'the CA of its TLS certificate').env('SOURCED_CA'))
    .addOption(new Option('--cert <FILE>', 'a client certificate for mutual TLS (with --key)').env('SOURCED_CERT'))
    .addOption(new Option('--key <FILE>', 'the key of the client certificate').env('SOURCED_KEY'))
    .addOption(new Option('--timeout <SECONDS>', 'give up after this long (DEADLINE_EXCEEDED, exit 4)').argParser(seconds))
    .optionsGroup('');
}
