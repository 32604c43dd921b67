/**
 * The harness-wide "no secret ever leaves" check. Every test file runs with this setup file:
 * the test helpers hand it everything a caller or an operator could see (daemon log lines,
 * exported spans, stream events, error statuses, CLI and daemon process output), and after the
 * file's tests it scans all of it for every secret value the run knows (the test servers'
 * passwords, and whatever a test registers). A hit fails the file, naming where the secret was
 * found, never the secret.
 */
import { afterAll, inject } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

type Source = () => string;

const sources: { kind: string; read: Source }[] = [];
const secrets = new Map<string, string>();

/** Adds a source of captured text (read when the file's tests are done). */
export function captureSource(kind: string, read: Source): void {
  sources.push({ kind, read });
}

/** Adds one captured text now. */
export function captureText(kind: string, text: string): void {
  sources.push({ kind, read: () => text });
}

/** Adds a value that must never appear in captured text; `label` names it in a failure. */
export function registerSecret(label: string, value: string | undefined): void {
  if (value && value.length >= 6) secrets.set(value, label);
}

/** Spans as text: names, attributes, events and statuses, as an exporter would send them. */
export function spansText(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status, s.links]));
}

function knownServerSecrets(): void {
  const keys = ['postgres', 'postgresTls', 'mariadb', 'mariadbTls', 'mongodb', 'mongodbTls'] as const;
  for (const key of keys) {
    let info: { password?: string; superuserPassword?: string; rootPassword?: string } | undefined;
    try {
      info = inject(key as never) as typeof info;
    } catch {
      info = undefined;
    }
    registerSecret(`${key}.password`, info?.password);
    registerSecret(`${key}.superuserPassword`, info?.superuserPassword);
  }
}

/**
 * Scans every captured text for every known secret and forgets what it scanned; returns
 * where each leak is, never the value.
 */
export function findLeaks(): string[] {
  knownServerSecrets();
  const leaks = new Set<string>();
  for (const { kind, read } of sources) {
    const text = read();
    for (const [value, label] of secrets) if (text.includes(value)) leaks.add(`${label} appears in ${kind}`);
  }
  sources.length = 0;
  return [...leaks];
}

afterAll(() => {
  const leaks = findLeaks();
  if (leaks.length) throw new Error(`secrets leaked:\n${leaks.join('\n')}`);
});
