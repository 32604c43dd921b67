import { readFileSync } from 'node:fs';
import { status as Status } from '@grpc/grpc-js';
import * as core from '@sourced/core';
import { describe, expect, it } from 'vitest';
import { toRichStatus } from '../daemon/src/grpc/toServiceError';
import { DOC, documentedReasons, scanReasons, scanText, withTable } from '../scripts/errorReasons';

/**
 * The error catalogue (issue 23): proto/sourced/v1/errors.proto's ErrorReason lists every
 * ErrorInfo.reason the daemon's source names, each with the gRPC code the daemon gives it, and
 * docs/clients.md's table is generated from it.
 */
const documented = documentedReasons();
const uses = scanReasons();

/** The gRPC code name the daemon's own mapping gives an error of this class with this reason. */
function codeOf(errorClass: string, reason: string): string | undefined {
  const Class = (core as unknown as Record<string, unknown>)[errorClass];
  if (typeof Class !== 'function') return undefined;
  // the class's prototype, without running its constructor (some take other arguments)
  const error = Object.assign(Object.create((Class as { prototype: object }).prototype) as core.SourcedError, { reason, message: 'x', metadata: {} });
  return Status[toRichStatus(error).code];
}

describe('error reasons', () => {
  it('finds reasons in the forms the source writes them', () => {
    const probe = [
      "throw new NotFoundError('PROBE_ONE', 'x');",
      "throw new InputError([{ field: 'f', description: 'd' }], { reason: 'PROBE_TWO' });",
      "class ProbeError extends NotAllowedError { constructor() { super('PROBE_THREE', 'm'); } }",
      "return { reason: 'PROBE_FOUR', kind: 'unavailable', code };",
    ].join('\n');
    expect(scanText(probe, 'probe.ts').map((u) => [u.reason, u.errorClass])).toEqual([
      ['PROBE_ONE', 'NotFoundError'],
      ['PROBE_THREE', 'NotAllowedError'],
      ['PROBE_TWO', 'InputError'],
      ['PROBE_FOUR', 'UnavailableError'],
    ]);
  });

  it('lists every reason the daemon, core and the plugins name in ErrorReason', () => {
    const listed = new Set(documented.map((r) => r.reason));
    expect(uses.length).toBeGreaterThan(100);
    expect(uses.filter((u) => !listed.has(u.reason)).map((u) => `${u.at}: ${u.reason}`)).toEqual([]);
  });

  it('lists no reason the source no longer names', () => {
    const named = new Set(uses.map((u) => u.reason));
    expect(documented.filter((r) => !named.has(r.reason)).map((r) => r.reason)).toEqual([]);
  });

  it("documents each reason with the code the daemon's mapping gives its error class", () => {
    const byReason = new Map(documented.map((r) => [r.reason, r.code.split(' or ')]));
    const wrong: string[] = [];
    let checked = 0;
    for (const u of uses) {
      if (!u.errorClass) continue;
      const code = codeOf(u.errorClass, u.reason);
      if (code === undefined) continue;
      checked++;
      if (!byReason.get(u.reason)?.includes(code))
        wrong.push(`${u.at}: ${u.reason} is ${code} (${u.errorClass}), documented ${byReason.get(u.reason)?.join(' or ')}`);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(100);
    // every documented code is a gRPC code
    for (const r of documented) for (const c of r.code.split(' or ')) expect(Status[c as keyof typeof Status], `${r.reason}: ${c}`).toBeTypeOf('number');
  });

  it('numbers ErrorReason values once each', () => {
    const numbers = documented.map((r) => r.number);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it("keeps docs/clients.md's table generated from the enum", () => {
    const doc = readFileSync(DOC, 'utf8');
    expect(withTable(doc) === doc, 'run: npx tsx scripts/errorReasons.ts').toBe(true);
  });
});
