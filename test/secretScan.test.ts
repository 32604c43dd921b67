import { describe, expect, inject, it } from 'vitest';
import { captureText, findLeaks, registerSecret } from './support/secretScan';

describe('the harness-wide secret scan', () => {
  /** The scan that guards every file really finds a leak, and names where without the value. */
  it('reports a registered secret found in captured text', () => {
    registerSecret('a test token', 'tok-1234567890');
    captureText('a fake log line', '{"msg":"connecting","token":"tok-1234567890"}');
    captureText('a clean span', '{"name":"sourced.check tcp"}');
    expect(findLeaks()).toEqual(['a test token appears in a fake log line']);
    expect(findLeaks()).toEqual([]);
  });

  /** The test servers' passwords are known to the scan without any test registering them. */
  it('knows the servers\u2019 passwords', () => {
    captureText('a fake error', `password authentication failed: ${inject('postgres').password}`);
    expect(findLeaks()).toEqual(['postgres.password appears in a fake error']);
  });
});
