/**
 * `sourced plugin init NAME`: writes a plugin package that builds and passes the conformance kit
 * from its first `npm test` (a connector over a toy JSON "database", or a secret provider over a
 * JSON file), for an author to turn into the real thing. The files are the templates in
 * cli/templates/plugin/ (common/, then connector/ or secret-provider/), with the names filled in.
 * Nothing is installed: the command prints how (from a registry, or from the packed tarballs).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { EXIT, UsageError } from './errors';

/** The kinds of plugin `plugin init` writes. */
export const PLUGIN_KINDS = ['connector', 'secret-provider'] as const;

/** A kind of plugin `plugin init` writes. */
export type PluginKind = (typeof PLUGIN_KINDS)[number];

/** The flags of `sourced plugin init`. */
export interface PluginInitOptions {
  kind: PluginKind;
  /** The folder to write (default: ./ID); it must not exist or be empty. */
  dir?: string;
}

/** The names a package is written with. */
export interface PluginNames {
  /** The npm package name, as given (`sourced-plugin-duckdb`, `@acme/sourced-plugin-duckdb`). */
  package: string;
  /** The plugin id, connector type or secret scheme: the name without scope or `sourced-plugin-` (`duckdb`). */
  id: string;
  /** An identifier for code (`duckdb`, `myDb` for `my-db`). */
  ident: string;
  /** A title for people (`Duckdb`, `My Db`). */
  title: string;
}

const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const PLUGIN_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** The names of a plugin from NAME; a UsageError (exit 2) says what a good name looks like. */
export function pluginNames(name: string): PluginNames {
  if (!NPM_NAME.test(name) || name.length > 214) {
    throw new UsageError(`"${name}" is not an npm package name: use lower case letters, digits and dashes, for example sourced-plugin-duckdb`);
  }
  const id = name.replace(/^@[^/]+\//, '').replace(/^sourced-plugin-/, '');
  if (!PLUGIN_ID.test(id)) {
    throw new UsageError(
      `"${id}" (from ${name}) cannot be a plugin id: ids are kebab-case, a letter first (they name the connector type or secret scheme), for example duckdb or my-store`,
    );
  }
  const words = id.split('-');
  return {
    package: name,
    id,
    ident: words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join(''),
    title: words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' '),
  };
}

/** The version ranges written into the package: the SDK the daemon hosts, and the daemon itself. */
export interface TemplateVersions {
  /** The plugin SDK range (`^1.3.0`). */
  sdk: string;
  /** The daemon's range, for the tests' in-process daemon (`^0.1.0`). */
  daemon: string;
}

/** The folder of the templates: in the package, beside dist/. */
export const TEMPLATES = resolve(__dirname, '..', 'templates', 'plugin');

/** Files whose name npm would drop from a package, stored under another name. */
const RENAMED: Record<string, string> = { gitignore: '.gitignore' };

/** Every file of a template folder, as paths relative to it. */
function filesOf(dir: string, under = ''): string[] {
  return readdirSync(join(dir, under), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesOf(dir, join(under, e.name)) : [join(under, e.name)]))
    .sort();
}

/** The text of a template with the names filled in. */
export function fillTemplate(text: string, names: PluginNames, versions: TemplateVersions): string {
  return text
    .replaceAll('__PACKAGE__', names.package)
    .replaceAll('__ID__', names.id)
    .replaceAll('__IDENT__', names.ident)
    .replaceAll('__TITLE__', names.title)
    .replaceAll('__SDK_RANGE__', versions.sdk)
    .replaceAll('__DAEMON_RANGE__', versions.daemon);
}

/** Writes the package; returns the files written, relative to `dir`. */
export function writePlugin(dir: string, kind: PluginKind, names: PluginNames, versions: TemplateVersions, templates = TEMPLATES): string[] {
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new UsageError(`${dir} exists and is not an empty folder: choose another --dir`);
  }
  const written: string[] = [];
  for (const folder of ['common', kind]) {
    const base = join(templates, folder);
    for (const file of filesOf(base)) {
      const target = join(dirname(file), RENAMED[basename(file)] ?? basename(file));
      mkdirSync(dirname(join(dir, target)), { recursive: true });
      writeFileSync(join(dir, target), fillTemplate(readFileSync(join(base, file), 'utf8'), names, versions));
      written.push(target);
    }
  }
  return written.sort();
}

/** The SDK version the daemon next to this CLI hosts, and the daemon's own version. */
function currentVersions(): TemplateVersions {
  /* eslint-disable @typescript-eslint/no-require-imports -- read when init runs, from the daemon this CLI depends on (core is the daemon's dependency, resolved from its folder) */
  const daemonManifest = require.resolve('@sourced/daemon/package.json');
  const daemon = (require(daemonManifest) as { version: string }).version;
  const core = require(require.resolve('@sourced/core', { paths: [dirname(daemonManifest)] })) as { PLUGIN_SDK_VERSION: string };
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { sdk: `^${core.PLUGIN_SDK_VERSION}`, daemon: `^${daemon}` };
}

/** Runs `sourced plugin init NAME`; prints what was written and what to do next. */
export function runPluginInit(name: string, options: PluginInitOptions): number {
  const names = pluginNames(name);
  const dir = resolve(options.dir ?? names.id);
  const files = writePlugin(dir, options.kind, names, currentVersions());
  const shown = relative(process.cwd(), dir) || '.';
  process.stdout.write(
    `wrote ${names.package} (${options.kind} "${names.id}") in ${shown}: ${files.length} files\n\n` +
      `next:\n` +
      `  cd ${shown}\n` +
      `  npm install                      # once @sourced/plugin-sdk and @sourced/daemon are on your registry\n` +
      `  SOURCED_PACKAGES=/path/to/dist-packages npm run sdk:tarballs   # until then: the tarballs of \`npm run pack:sdk\`\n` +
      `  npm test                         # builds, then runs the conformance kit\n` +
      `README.md says what to replace; docs/plugins.md is the guide.\n`,
  );
  return EXIT.OK;
}
