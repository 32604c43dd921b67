import { parseArgs } from 'node:util';
import { AuditFileError, JsonLogger, loadPlugins, PluginRegistry, resolveSigningKey, SigningKeyError, verifyAuditLog } from 'sourced/parts';

/** Exit codes of `sourced audit` (the same numbers as the rest of the CLI). */
export const AUDIT_EXIT = { INTACT: 0, TAMPERED: 1, BAD_INPUT: 2 } as const;

export const AUDIT_USAGE = `Usage:
  sourced audit verify FILE [--expect-last HASH] [--key REF [--allow-unsigned-tail]] [--json]

Checks the hash chain of an audit log the daemon wrote (audit.file): each line's hash against
its content, its prev against the line before, its seq counting up by one. It finds a line that
was edited, removed, inserted or moved. Removing lines from the end is only detectable against a
hash recorded elsewhere: record the last hash it prints, and pass it later as --expect-last HASH
(lines appended since then are fine).
--key REF checks the signed checkpoints with the daemon's audit.signingKey, given as a secret
reference (env://NAME or file:///path): every checkpoint's signature, each restart against the
previous run's signed close, and that every line is signed by a checkpoint after it, so lines
appended or forged without the key fail. --allow-unsigned-tail accepts the latest lines of a
running daemon that its next checkpoint will sign.
--json prints the result as one JSON object.
Exit codes: 0 chain intact, 1 chain broken (the line is named), 2 bad input (no FILE, unreadable file).`;

const NOTE =
  'note: this verifies the chain; removing lines from the end is only detectable against a hash recorded elsewhere (record the last hash; check later with --expect-last HASH)';

class UsageError extends Error {}

/** The signing key from a secret reference, through the built-in providers (env://, file://). */
async function signingKeyOf(reference: string): Promise<Buffer> {
  const registry = new PluginRegistry();
  const logger = new JsonLogger('error');
  await loadPlugins([], registry, logger);
  return resolveSigningKey(reference, registry.secretProviders(), logger);
}

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
    if (error instanceof AuditFileError || error instanceof SigningKeyError) {
      process.stderr.write(`sourced: ${error.message}\n`);
      return AUDIT_EXIT.BAD_INPUT;
    }
    throw error;
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'expect-last': { type: 'string' },
      key: { type: 'string' },
      'allow-unsigned-tail': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
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
  if (values['allow-unsigned-tail'] && values.key === undefined) throw new UsageError('--allow-unsigned-tail goes with --key');
  const key = values.key === undefined ? undefined : await signingKeyOf(values.key);
  const result = await verifyAuditLog(file, { expectLast, key, allowUnsignedTail: values['allow-unsigned-tail'] });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
  } else if (result.ok) {
    process.stdout.write(`ok: ${result.lines.toLocaleString('en-US')} lines, chain intact, last hash ${result.lastHash}\n`);
    if (key) {
      const unsigned = result.lines - (result.signedThrough ?? 0);
      process.stdout.write(
        `signed: ${result.checkpoints.toLocaleString('en-US')} checkpoint${result.checkpoints === 1 ? '' : 's'} verified with the key${unsigned > 0 ? `; the last ${unsigned.toLocaleString('en-US')} line${unsigned === 1 ? ' is' : 's are'} not signed yet` : ', every line signed'}\n`,
      );
    } else if (result.checkpoints > 0) {
      process.stdout.write(`${result.checkpoints.toLocaleString('en-US')} signed checkpoint${result.checkpoints === 1 ? '' : 's'} not checked: pass --key REF (the daemon's audit.signingKey) to check them\n`);
    }
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
