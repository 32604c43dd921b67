import { parseArgs } from 'node:util';
import { AuditFileError, verifyAuditLog } from '../audit/verifyAuditLog';

/** Exit codes of `sourced audit` (the same numbers as the rest of the CLI). */
export const AUDIT_EXIT = { INTACT: 0, TAMPERED: 1, BAD_INPUT: 2 } as const;

export const AUDIT_USAGE = `Usage:
  sourced audit verify FILE [--expect-last HASH] [--json]

Checks the hash chain of an audit log the daemon wrote (audit.file): each line's hash against
its content, its prev against the line before, its seq counting up by one. It finds a line that
was edited, removed, inserted or moved. Removing lines from the end is only detectable against a
hash recorded elsewhere: record the last hash it prints, and pass it later as --expect-last HASH
(lines appended since then are fine).
--json prints the result as one JSON object.
Exit codes: 0 chain intact, 1 chain broken (the line is named), 2 bad input (no FILE, unreadable file).`;

const NOTE =
  'note: this verifies the chain; removing lines from the end is only detectable against a hash recorded elsewhere (record the last hash; check later with --expect-last HASH)';

class UsageError extends Error {}

/** `sourced audit ...`: returns the exit code. */
export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'verify':
        return await verify(rest);
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${AUDIT_USAGE}\n`);
        return AUDIT_EXIT.INTACT;
      case undefined:
        throw new UsageError('audit takes a subcommand: verify');
      default:
        throw new UsageError(`audit: unknown subcommand "${sub}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`sourced: ${(error as Error).message}\n\n${AUDIT_USAGE}\n`);
      return AUDIT_EXIT.BAD_INPUT;
    }
    if (error instanceof AuditFileError) {
      process.stderr.write(`sourced: ${error.message}\n`);
      return AUDIT_EXIT.BAD_INPUT;
    }
    throw error;
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'expect-last': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${AUDIT_USAGE}\n`);
    return AUDIT_EXIT.INTACT;
  }
  if (positionals.length !== 1) throw new UsageError('audit verify takes exactly one FILE (an audit log)');
  const file = positionals[0];
  const expectLast = values['expect-last'];
  if (expectLast !== undefined && !/^[0-9a-f]{64}$/i.test(expectLast)) {
    throw new UsageError(`--expect-last: "${expectLast}" is not a SHA-256 hash (64 hex digits, as verify prints it)`);
  }
  const result = await verifyAuditLog(file, { expectLast });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
  } else if (result.ok) {
    process.stdout.write(`ok: ${result.lines.toLocaleString('en-US')} lines, chain intact, last hash ${result.lastHash}\n`);
    if (result.expected) {
      const { line, linesAfter } = result.expected;
      process.stdout.write(
        line === 0
          ? 'the recorded hash is the empty chain\'s; every line was appended since\n'
          : `the recorded hash is line ${line.toLocaleString('en-US')}'s: nothing up to it was changed or removed; ${linesAfter.toLocaleString('en-US')} line${linesAfter === 1 ? ' was' : 's were'} appended since\n`,
      );
    } else {
      process.stdout.write(`${NOTE}\n`);
    }
  } else {
    process.stdout.write(`NOT intact: ${result.problem}\n`);
  }
  return result.ok ? AUDIT_EXIT.INTACT : AUDIT_EXIT.TAMPERED;
}
