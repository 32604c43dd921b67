/**
 * The plugin SDK's public surface as the TypeScript compiler sees it in the built
 * declarations (`sdk/dist/*.d.ts`, which re-export `core/dist/*.d.ts`): the entry points and
 * their exports (aliases followed to the original declarations), for the TSDoc check
 * (`tsdoc-report.ts`). The API report itself is API Extractor's (`sdk/api-extractor*.json`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import ts from 'typescript';

/** One entry point of the SDK package. */
export interface SdkEntry {
  /** The specifier plugin authors import, for example `@sourced/plugin-sdk/testing`. */
  specifier: string;
  /** The built declaration file, relative to the repo root. */
  dts: string;
}

/** The SDK's entry points, in report order. */
export const SDK_ENTRIES: readonly SdkEntry[] = [
  { specifier: '@sourced/plugin-sdk', dts: 'sdk/dist/index.d.ts' },
  { specifier: '@sourced/plugin-sdk/testing', dts: 'sdk/dist/testing/index.d.ts' },
];

/** One export of an entry point. */
export interface SdkExport {
  /** The name it is exported under. */
  name: string;
  /** The symbol it names, aliases followed. */
  symbol: ts.Symbol;
  /** Exported with `export type { ... }`: usable as a type only. */
  typeOnly: boolean;
}

/** The repo root: the nearest folder up from `start` whose package.json declares workspaces. */
export function findRepoRoot(start = process.cwd()): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && 'workspaces' in (JSON.parse(readFileSync(manifest, 'utf8')) as object)) return dir;
    if (dirname(dir) === dir) throw new Error(`no workspace root above ${start}`);
  }
}

/** A program over the built declarations of every SDK entry. Throws when the SDK is not built. */
export function createSdkProgram(root: string): ts.Program {
  const rootNames = SDK_ENTRIES.map((e) => join(root, e.dts));
  const missing = rootNames.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`the SDK is not built (${missing.map((f) => relative(root, f)).join(', ')} missing): run \`npm run build\` first`);
  return ts.createProgram({
    rootNames,
    options: {
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      esModuleInterop: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules', '@types')],
    },
  });
}

/** The exports of an entry's declaration file, sorted by name (code-unit order, locale-independent). */
export function entryExports(program: ts.Program, root: string, entry: SdkEntry): SdkExport[] {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(join(root, entry.dts));
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  if (!moduleSymbol) throw new Error(`${entry.dts} is not a module`);
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((exported) => ({ name: exported.name, symbol: resolveAlias(checker, exported), typeOnly: isTypeOnlyExport(exported) }))
    .sort((a, b) => compareText(a.name, b.name));
}

/** A symbol with its import/export aliases followed to the original declaration. */
export function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

/** Whether an export is `export type { ... }` (or `export { type X }`). */
function isTypeOnlyExport(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
}

/** The declaration's file relative to the repo root, with `/` separators. */
export function relativeFile(root: string, node: ts.Node): string {
  return relative(root, node.getSourceFile().fileName).split(sep).join('/');
}

/** A symbol's declarations in a stable order: by file, then position. */
export function sortedDeclarations(root: string, symbol: ts.Symbol): ts.Declaration[] {
  return [...(symbol.declarations ?? [])].sort((a, b) => compareText(relativeFile(root, a), relativeFile(root, b)) || a.pos - b.pos);
}

/** Whether a class member is hidden from users: `private`, or a `#private` name. */
export function isPrivateMember(member: ts.ClassElement | ts.TypeElement): boolean {
  if (member.name && ts.isPrivateIdentifier(member.name)) return true;
  return (ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Private) !== 0;
}

/** Code-unit comparison, so the order never depends on the locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
