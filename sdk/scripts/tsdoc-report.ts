/**
 * TSDoc completeness of the plugin SDK: every export of an SDK entry, and every member of an
 * exported interface or class (properties, methods, accessors; not private ones, not
 * constructors), must carry a doc comment in the built declarations, since that is what
 * plugin authors read in their editor. A class member that implements or overrides a
 * documented member inherits its comment, as editors show it. `sdk/test/tsdoc.test.ts` checks it.
 *
 *   npx tsx sdk/scripts/tsdoc-report.ts   # list what has no doc comment, per entry
 */
import ts from 'typescript';
import { createSdkProgram, entryExports, findRepoRoot, isPrivateMember, relativeFile, SDK_ENTRIES, sortedDeclarations, type SdkEntry } from './apiModel';

/** What lacks a doc comment in one entry. */
export interface UndocumentedReport {
  entry: SdkEntry;
  /** `Export` or `Export.member`, each with the declaring d.ts; sorted. */
  missing: string[];
}

/** The undocumented exports and members of every SDK entry, from the built declarations under `root`. */
export function findUndocumented(root = findRepoRoot()): UndocumentedReport[] {
  const program = createSdkProgram(root);
  const checker = program.getTypeChecker();
  return SDK_ENTRIES.map((entry) => {
    const missing = new Set<string>();
    for (const e of entryExports(program, root, entry)) {
      const declarations = sortedDeclarations(root, e.symbol);
      // Code generated from proto/ by ts-proto is documented by the .proto comments it carries over.
      if (declarations.length > 0 && declarations.every((d) => relativeFile(root, d).includes('/gen/'))) continue;
      const where = declarations.length ? ` (${relativeFile(root, declarations[0])})` : '';
      if (!hasDoc(checker, e.symbol)) missing.add(`${e.name}${where}`);
      for (const declaration of declarations) {
        if (!ts.isInterfaceDeclaration(declaration) && !ts.isClassDeclaration(declaration)) continue;
        const members: readonly (ts.ClassElement | ts.TypeElement)[] = declaration.members;
        for (const member of members) {
          if (!isDocumentableMember(member) || isPrivateMember(member)) continue;
          const symbol = (member as { symbol?: ts.Symbol }).symbol ?? (member.name && checker.getSymbolAtLocation(member.name));
          if (symbol && !hasDoc(checker, symbol)) missing.add(`${e.name}.${symbol.name} (${relativeFile(root, member)})`);
        }
      }
    }
    return { entry, missing: [...missing].sort() };
  });
}

/** Properties, methods and accessors; not constructors, index or call signatures. */
function isDocumentableMember(member: ts.ClassElement | ts.TypeElement): boolean {
  return (
    ts.isPropertySignature(member) ||
    ts.isMethodSignature(member) ||
    ts.isPropertyDeclaration(member) ||
    ts.isMethodDeclaration(member) ||
    ts.isGetAccessorDeclaration(member) ||
    ts.isSetAccessorDeclaration(member)
  );
}

/** Whether a symbol has a doc comment with text (inherited from a base or an implemented interface counts). */
function hasDoc(checker: ts.TypeChecker, symbol: ts.Symbol): boolean {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim() !== '';
}

// Run as a script, not when a test imports it.
if (process.argv.slice(1, 2).some((arg) => /tsdoc-report\.ts$/.test(arg))) {
  let total = 0;
  for (const r of findUndocumented()) {
    console.log(`${r.entry.specifier}: ${r.missing.length} without a doc comment`);
    for (const m of r.missing) console.log(`  ${m}`);
    total += r.missing.length;
  }
  process.exitCode = total === 0 ? 0 : 1;
}
