/**
 * loadConfig's refusals: every bad value (an unknown or misspelt key, a wrong type, a bad
 * environment variable or flag) is an error naming the key, where it came from and what was
 * expected. The rest of loadConfig is config.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/DaemonConfig';
import { configFiles } from './configFiles';

const { dir, write, errorOf } = configFiles('sourced-config-errors-');

describe('loadConfig', () => {
  describe('errors name where the bad value came from', () => {
    /** An unknown top-level key in the file names the key, the file and the known keys. */
    it('an unknown key in the file', () => {
      expect(errorOf(['--config', write('errors/unknown.yaml', 'listen: 127.0.0.1:1\nlogLevle: debug\n')])).toMatchInlineSnapshot(
        `"logLevle in <dir>/errors/unknown.yaml: unknown key (did you mean logLevel?); known: listen, plugins, pluginSettings, logLevel, shutdownGraceMs, validation, discovery, preview, profile, limits, audit, auth, rbac, server, sources, targets, secrets, metrics"`,
      );
    });

    /** A misspelt key inside a section is refused too, instead of silently keeping a default (here: dynamic secret look-ups on). */
    it('an unknown key inside a section of the file', () => {
      expect(errorOf(['--config', write('errors/nested.yaml', 'secrets:\n  dynamicStrategy: false\n')])).toMatchInlineSnapshot(
        `"secrets.dynamicStrategy in <dir>/errors/nested.yaml: unknown key (did you mean dynamicStrategies?); known: allowedReferences, dynamicStrategies, order, cacheTtlMs, staleIfErrorMs, providerTimeoutMs"`,
      );
    });

    /** A section that is not an object, or a switch that is not a boolean, is refused rather than read as "off". */
    it('a value of the wrong type in the file', () => {
      expect(errorOf(['--config', write('errors/section.yaml', 'discovery: ADAPTIVE\n')])).toMatchInlineSnapshot(
        `"discovery in <dir>/errors/section.yaml: expected an object with defaultStrategy, heapHeadroomMb, heapGrowingPercent, stallTimeoutMs, stallProbeAfterMs; got "ADAPTIVE""`,
      );
      expect(errorOf(['--config', write('errors/switch.yaml', 'secrets:\n  dynamicStrategies: "yes"\n')])).toMatchInlineSnapshot(
        `"secrets.dynamicStrategies in <dir>/errors/switch.yaml: "yes" is not true or false"`,
      );
    });

    /** A listen address that is not HOST:PORT names the variable. */
    it('a bad listen address in the environment', () => {
      expect(errorOf([], { SOURCED_LISTEN: 'localhost' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_LISTEN: "localhost" is not HOST:PORT (for example 127.0.0.1:50051, or [::]:50051)"`,
      );
      expect(errorOf([], { SOURCED_LISTEN: '127.0.0.1:70000' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_LISTEN: "127.0.0.1:70000" is not HOST:PORT (for example 127.0.0.1:50051, or [::]:50051)"`,
      );
    });

    /** A log level that is not one of the four names the flag and lists the choices. */
    it('a bad log level flag', () => {
      expect(errorOf(['--log-level', 'verbose'])).toMatchInlineSnapshot(`"flag --log-level: "verbose" is not one of debug, info, warn, error"`);
    });

    /** A bad number names its origin, in the file as in a variable or a flag. */
    it('a bad number', () => {
      expect(errorOf(['--config', write('errors/grace.yaml', 'shutdownGraceMs: soon\n')])).toMatchInlineSnapshot(
        `"shutdownGraceMs in <dir>/errors/grace.yaml: "soon" is not a non-negative number"`,
      );
      expect(errorOf([], { SOURCED_CHECK_TIMEOUT_MS: '-5' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_CHECK_TIMEOUT_MS: -5 is not a non-negative number"`,
      );
      expect(errorOf(['--shutdown-grace-ms', 'ten'])).toMatchInlineSnapshot(`"flag --shutdown-grace-ms: "ten" is not a non-negative number"`);
      // Number(' ') is 0: a blank value must not become "no grace period"
      expect(errorOf([], { SOURCED_SHUTDOWN_GRACE_MS: ' ' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_SHUTDOWN_GRACE_MS: " " is not a non-negative number"`,
      );
      // a connection limit of 0 would make every discovery wait forever
      expect(errorOf([], { SOURCED_MAX_CONNECTIONS_PER_ENDPOINT: '0' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_MAX_CONNECTIONS_PER_ENDPOINT: 0 is not a positive whole number"`,
      );
      expect(errorOf(['--config', write('errors/preview.yaml', 'preview:\n  defaultRows: 500\n  maxRows: 100\n')])).toMatchInlineSnapshot(
        `"preview.defaultRows in <dir>/errors/preview.yaml: 500 is more than preview.maxRows (100)"`,
      );
      expect(errorOf(['--config', write('errors/preview2.yaml', 'preview:\n  maskCredentialColumns: "no"\n')])).toMatchInlineSnapshot(
        `"preview.maskCredentialColumns in <dir>/errors/preview2.yaml: "no" is not true or false"`,
      );
      expect(errorOf(['--config', write('errors/targets.yaml', 'targets:\n  deny: ["10.0.0.0/33"]\n')])).toMatchInlineSnapshot(
        `"targets.deny in <dir>/errors/targets.yaml: "10.0.0.0/33" has a bad prefix length (0-32) (an entry is a CIDR block such as 10.0.0.0/8, an address, or a host-name pattern such as *.db.example.com)"`,
      );
      expect(errorOf([], { SOURCED_TARGETS_ALLOW: 'db.example.com, http://x' })).toMatchInlineSnapshot(
        `"environment variable SOURCED_TARGETS_ALLOW: "http://x" is neither a CIDR block, an address nor a host-name pattern (an entry is a CIDR block such as 10.0.0.0/8, an address, or a host-name pattern such as *.db.example.com)"`,
      );
      expect(errorOf(['--config', write('errors/targets2.yaml', 'targets:\n  allowLinkLocal: "yes"\n')])).toMatchInlineSnapshot(
        `"targets.allowLinkLocal in <dir>/errors/targets2.yaml: "yes" is not true or false"`,
      );
      expect(errorOf(['--config', write('errors/limit.yaml', 'sources:\n  maxConnectionsPerEndpoint: 2.5\n')])).toMatchInlineSnapshot(
        `"sources.maxConnectionsPerEndpoint in <dir>/errors/limit.yaml: 2.5 is not a positive whole number"`,
      );
    });

    /** Problems with the file itself: missing, unparsable, not an object. */
    it('a file that cannot be used', () => {
      expect(errorOf(['--config', 'nope.yaml'])).toMatchInlineSnapshot(
        `"cannot read config file <dir>/nope.yaml: ENOENT: no such file or directory, open '<dir>/nope.yaml'"`,
      );
      expect(errorOf(['--config', write('errors/broken.json', '{"listen": ')])).toMatch(/^cannot read config file <dir>\/errors\/broken\.json: /);
      expect(errorOf(['--config', write('errors/list.yaml', '- listen\n')])).toMatchInlineSnapshot(`"config file <dir>/errors/list.yaml must hold an object"`);
    });

    /** An unknown flag is refused by the argument parser before anything is read. */
    it('an unknown flag', () => {
      expect(() => loadConfig(['--listn', '127.0.0.1:1'], {}, dir)).toThrow(expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
    });
  });
});
