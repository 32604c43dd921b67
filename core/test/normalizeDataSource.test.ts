import { describe, expect, it } from 'vitest';
import { InputError, normalizeDataSource, type ConnectorTypeResolver, type DataSourceInput } from '../src';

const connectors: ConnectorTypeResolver = {
  resolve: (t) => ({ postgres: 'postgres', postgresql: 'postgres' })[t],
  known: () => ['postgres'],
};

function violations(input: DataSourceInput): { field: string; description: string }[] {
  try {
    normalizeDataSource(input, connectors);
  } catch (error) {
    if (error instanceof InputError) return error.violations;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('normalizeDataSource', () => {
  /** The platform's loose JSON shape maps onto the typed fields. */
  it('maps the platform shape from connection_properties', () => {
    const ds = normalizeDataSource(
      {
        type: 'postgresql',
        location: 'CLOUD',
        connectionProperties: {
          host: 'db.example.com',
          port: '6432',
          database: 'app',
          username: 'reader',
          ssl_ca: '/etc/ca.pem',
          cloud_config: { aws_region: 'eu-west-1', use_iam_auth: true },
        },
      },
      connectors,
    );
    expect(ds).toMatchObject({
      type: 'postgres',
      location: 'CLOUD',
      primary: { host: 'db.example.com', port: 6432, database: 'app' },
      username: 'reader',
      ssl: { mode: 'verify-full', ca: '/etc/ca.pem' },
      cloud: { awsRegion: 'eu-west-1', useIamAuth: true },
    });
  });

  /** A typed field wins over the same loose field. */
  it('prefers typed fields over loose ones', () => {
    const ds = normalizeDataSource(
      { type: 'postgres', primary: { host: 'typed', port: 1000 }, connectionProperties: { host: 'loose', port: 2000 } },
      connectors,
    );
    expect(ds.primary).toEqual({ host: 'typed', port: 1000, database: undefined });
  });

  /** HYBRID takes its secondary from replica_config when not typed. */
  it('reads replica_config as the HYBRID secondary', () => {
    const ds = normalizeDataSource(
      {
        type: 'postgres',
        location: 'LOCATION_HYBRID',
        primary: { host: 'a', database: 'app' },
        connectionProperties: { replica_config: { host: 'b', port: 5433 } },
      },
      connectors,
    );
    expect(ds.secondary).toEqual({ host: 'b', port: 5433, database: 'app' });
    expect(ds.ssl.mode).toBe('verify-full');
  });

  /** Inconsistent input names each offending field. */
  it('rejects HYBRID without a secondary and a certificate without its key', () => {
    expect(
      violations({ type: 'postgres', location: 'HYBRID', primary: { host: 'a' }, sslConfig: { cert: '-----BEGIN CERTIFICATE-----' } }).map((v) => v.field),
    ).toEqual(['data_source.secondary', 'data_source.ssl_config.key']);
  });

  it('names the loaded connectors for an unknown type and reports a bad port', () => {
    const v = violations({ type: 'oracle', primary: { host: 'a' }, connectionProperties: { port: 'abc' } });
    expect(v).toEqual([
      { field: 'data_source.type', description: 'unknown connector type "oracle"; loaded connectors: postgres' },
      { field: 'data_source.connection_properties.port', description: '"abc" is not a port number' },
    ]);
  });

  it('refuses a secondary outside HYBRID, a bad host, a bad reference and a bad enum', () => {
    const v = violations({
      type: 'postgres',
      location: 'moon',
      primary: { host: 'postgres://x' },
      secondary: { host: 'b' },
      credentials: { password: { reference: 'just-text' } },
    });
    expect(v.map((x) => x.field)).toEqual([
      'data_source.location',
      'data_source.primary.host',
      'data_source.secondary',
      'data_source.credentials.password.reference',
    ]);
  });

  /** An inline password becomes a Secret that never prints its value. */
  it('wraps an inline password in a redacting Secret', () => {
    const ds = normalizeDataSource({ type: 'postgres', primary: { host: 'a' }, credentials: { password: { inlineValue: 'hunter2' } } }, connectors);
    expect(ds.password?.kind).toBe('inline');
    const text = JSON.stringify(ds) + String(ds.password && 'value' in ds.password ? ds.password.value : '');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('[REDACTED]');
  });

  /** A file-based connector (SQLite) takes the path in primary.database and no host, and no HYBRID. */
  it('takes a path and no host for a file-based connector', () => {
    const files: ConnectorTypeResolver = { resolve: (t) => (t === 'sqlite' ? 'sqlite' : undefined), known: () => ['sqlite'], addressing: () => 'file' };
    const ds = normalizeDataSource({ type: 'sqlite', primary: { database: 'shop.db' } } as DataSourceInput, files);
    expect(ds.primary).toEqual({ host: '', port: undefined, database: 'shop.db' });
    const violations = (input: DataSourceInput) => {
      try {
        normalizeDataSource(input, files);
      } catch (error) {
        return (error as InputError).violations;
      }
      return [];
    };
    expect(violations({ type: 'sqlite', primary: { host: 'db.example.com', database: 'shop.db' } } as DataSourceInput)).toEqual([
      { field: 'data_source.primary.host', description: 'is not used by sqlite, whose sources are files; give the path in primary.database' },
    ]);
    expect(violations({ type: 'sqlite', primary: {} } as DataSourceInput)).toEqual([
      { field: 'data_source.primary.database', description: 'is required for sqlite: the path of the database file' },
    ]);
    expect(violations({ type: 'sqlite', location: 'LOCATION_HYBRID', primary: { database: 'a.db' } } as DataSourceInput)).toEqual([
      { field: 'data_source.location', description: 'HYBRID needs a network endpoint; sqlite sources are files' },
    ]);
  });
});
