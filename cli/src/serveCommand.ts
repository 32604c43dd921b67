/**
 * `sourced serve`: runs the daemon. Its flags are not written here: they are the options of the
 * daemon's configuration schema that name a `flag` (sourced/config's CONFIG_LEAVES), added to the
 * command only when it runs or shows its help, so that the other commands never load the schema (zod).
 */
import type { Command } from 'commander';
import { EXIT, UsageError } from './errors';
import { collect } from './options';

type ConfigModule = typeof import('@sourced/daemon/config');

/** `--log-level` → `log-level`. */
const flagName = (flag: string) => flag.split(' ')[0].replace(/^--/, '');

const completed = new WeakSet<Command>();

/** Adds the schema's flags to the command (once); program.ts declares `--config`. */
export function addServeOptions(command: Command): void {
  if (completed.has(command)) return;
  completed.add(command);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only `serve` needs the configuration schema (zod)
  const { CONFIG_LEAVES, DEFAULT_CONFIG } = require('@sourced/daemon/config') as ConfigModule;
  for (const leaf of CONFIG_LEAVES) {
    const flag = leaf.meta.flag;
    if (!flag) continue;
    const name = flagName(flag);
    // The value's name as the schema writes it (`--listen HOST:PORT`), else the flag's last word (`--log-level` → LEVEL).
    const valueName = flag.split(' ')[1]?.replace(/[()]/g, '') || name.slice(name.lastIndexOf('-') + 1).toUpperCase();
    const repeatable = flag.includes('(repeatable)');
    const fallback =
      leaf.meta.defaultText ?? JSON.stringify(leaf.path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], DEFAULT_CONFIG));
    const description = `${(leaf.meta.description ?? '').replace(/`/g, '')}${repeatable ? ' Repeatable.' : ''} (default: ${fallback.replace(/`/g, '')}; env: ${leaf.env})`;
    // No commander default or env here: loadConfig layers defaults, the file, the environment and
    // the flags itself, and names where a bad value came from.
    if (repeatable) command.option(`--${name} <${valueName}>`, description, collect);
    else command.option(`--${name} <${valueName}>`, description);
  }
}

/** The flags as loadConfig reads them, from what commander parsed. */
function configArgv(command: Command): string[] {
  const values = command.opts<Record<string, string | string[] | undefined>>();
  const argv: string[] = [];
  for (const option of command.options) {
    const value = values[option.attributeName()];
    if (value === undefined || !option.long) continue;
    for (const v of Array.isArray(value) ? value : [value]) argv.push(`${option.long}=${v}`);
  }
  return argv;
}

export async function runServe(command: Command): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only `serve` needs the configuration schema (zod)
  const { ConfigError, loadConfig } = require('@sourced/daemon/config') as ConfigModule;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(configArgv(command));
  } catch (error) {
    // A bad value says where it came from (the file, a variable, a flag): bad input, exit 2.
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  // Loaded here rather than at the top: the client commands need none of the daemon's
  // dependencies (OpenTelemetry SDK, awilix, plugin loader, gRPC server).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: see above
  const { startDaemon } = require('@sourced/daemon') as typeof import('@sourced/daemon');
  let daemon: Awaited<ReturnType<typeof startDaemon>>;
  try {
    daemon = await startDaemon({ config });
  } catch (error) {
    // Start-up problems (port taken, bad OTEL_* setting) are the operator's to fix: say what, no stack.
    process.stderr.write(`sourced: cannot start: ${(error as Error).message}\n`);
    return EXIT.ERROR;
  }
  // SIGHUP re-reads the TLS files; a reload that fails keeps the files in use.
  const onReload = () => {
    try {
      daemon.reloadTls();
    } catch (error) {
      process.stderr.write(
        JSON.stringify({
          time: new Date().toISOString(),
          level: 'error',
          msg: 'reloading the TLS files failed; the old ones stay in use',
          error: (error as Error).message,
        }) + '\n',
      );
    }
  };
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'signal received', signal }) + '\n');
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onReload);
  });
  process.off('SIGHUP', onReload);
  return EXIT.OK;
}
