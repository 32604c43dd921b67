/**
 * The `sourced` command-line client: parses the command line with the commander program
 * (program.ts), runs the command, and turns what went wrong into a message and an exit code.
 * Everything heavier than commander (gRPC, the API, the daemon, zod) is loaded by the command
 * that needs it.
 */
import { CommanderError } from 'commander';
import { EXIT, UsageError } from './errors';
import { buildProgram } from './program';

export { EXIT } from './errors';

/** Runs `sourced ARGV...`; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnBrokenPipe();
  let code: number = EXIT.OK;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, --version: done. No command: the usage went to stderr. A usage mistake: commander said what.
      return error.exitCode === 0 ? EXIT.OK : EXIT.BAD_INPUT;
    }
    return report(error);
  }
}

/** Prints an error for a person and picks the exit code. */
function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`sourced: ${error.message}\n`);
    return EXIT.BAD_INPUT;
  }
  const se = error as { code?: unknown; details?: string; metadata?: { get(key: string): unknown[] } };
  if (typeof se.code === 'number' && se.metadata) {
    // Only a call to the daemon throws this: gRPC and the API are loaded already.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: gRPC slows the start-up of commands that never call the daemon
    const { status: Status } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: as gRPC, loaded only by commands that call the daemon
    const { decodeRichStatus } = require('@sourced/api') as typeof import('@sourced/api');
    // A number from the wire (any gRPC status code), compared with the enum's values as numbers.
    const code = se.code;
    const bin = se.metadata.get('grpc-status-details-bin')[0];
    const rich = bin ? decodeRichStatus(bin as Buffer) : undefined;
    const violations = (rich?.badRequest ?? []).map((v) => `${v.field}: ${v.description}`);
    process.stderr.write(`sourced: ${Status[code]}: ${withoutEmptyNote(withoutViolations(se.details ?? '', violations))}\n`);
    if (rich) {
      for (const v of violations) process.stderr.write(`  ${v}\n`);
      // A hint for the fix, when the error has one (envelopes and keys: docs/encryption.md).
      const hint: string | undefined = rich.errorInfo?.metadata.hint;
      if (hint) process.stderr.write(`  hint: ${hint}\n`);
    }
    // Every status the daemon sends carries google.rpc details; an UNAVAILABLE without them
    // comes from this side of the channel: the daemon could not be reached. (An UNAVAILABLE
    // from the daemon, such as a data source it cannot connect to, says so in its message.)
    if (code === (Status.UNAVAILABLE as number) && !bin) {
      process.stderr.write('  is the daemon running? start it with `sourced serve` (or npm start), or pass --address\n');
      return EXIT.UNREACHABLE;
    }
    return code === (Status.INVALID_ARGUMENT as number) ? EXIT.BAD_INPUT : EXIT.ERROR;
  }
  process.stderr.write(`sourced: ${(error as Error | undefined)?.stack ?? String(error)}\n`);
  return EXIT.ERROR;
}

/**
 * grpc-js's message for a channel that could not connect ends with `Resolution note: ` and
 * nothing after it when name resolution had nothing to say (issue 22, item 10); that empty
 * label is left out.
 */
export function withoutEmptyNote(message: string): string {
  return message.replace(/\.? Resolution note: ?$/, '.');
}

/**
 * The status message without the violations the lines below it list one by one (the daemon's
 * message repeats them: `invalid request: a: ...; b: ...`), so each is printed once.
 */
export function withoutViolations(message: string, violations: string[]): string {
  if (violations.length === 0) return message;
  const first = message.indexOf(violations[0]);
  if (first <= 0) return message;
  const rest = message.slice(first);
  if (!violations.every((v) => rest.includes(v))) return message;
  const head = message.slice(0, first).replace(/[\s:;]+$/, '');
  return `${head} (${violations.length === 1 ? 'one field' : `${violations.length} fields`}):`;
}

/**
 * A reader that went away (`sourced discover db.yaml --format ndjson | head`) is not an error:
 * stop quietly, as the shell's own tools do.
 */
let pipeWatched = false;
function exitQuietlyOnBrokenPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(EXIT.OK);
      throw error;
    });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = EXIT.ERROR;
    },
  );
}
