/** Good and bad data-source documents and what the CLI says of each: test/dataSourceFormat.test.ts and test/e2e/python.test.ts read the same list. */
export interface DataSourceCase {
  name: string;
  doc: unknown;
  ok: boolean;
  /** Uses a shorthand proto3 JSON does not have (a short enum name, a secret as a string): buf curl refuses it. */
  shorthand?: boolean;
  /** What the CLI says for a bad file. */
  says?: string;
}

export const ENDPOINT = { host: 'db.internal', port: 5432, database: 'app' };
export const DATA_SOURCE_CASES: DataSourceCase[] = [
  { name: 'the minimum', doc: { type: 'postgres', primary: { host: 'db.internal' } }, ok: true },
  {
    name: 'every field, proto names, full enum names',
    doc: {
      id: 'orders',
      name: 'Orders',
      type: 'postgres',
      location: 'LOCATION_HYBRID',
      cloud_provider: 'CLOUD_PROVIDER_AWS',
      primary: ENDPOINT,
      secondary: { ...ENDPOINT, host: 'db2.internal' },
      credentials: { username: 'reader', password: { reference: 'env://SOURCED_SECRET_X' } },
      ssl_config: { mode: 'SSL_MODE_VERIFY_FULL', ca: '-----BEGIN CERTIFICATE-----', cert: 'c', key: { inline_value: 'k' }, server_name: 'db' },
      cloud_config: {
        aws_region: 'eu-west-1',
        aws_access_key_id: { reference: 'env://SOURCED_SECRET_K' },
        aws_secret_access_key: { encrypted: 'sourced:enc:v1:x' },
        use_iam_auth: true,
        azure_tenant_id: 't',
        azure_client_id: 'c',
        azure_client_secret: { reference: 'azure-kv://v/s' },
        use_managed_identity: false,
      },
      connection_properties: { connect_timeout_seconds: 5, replica_config: { host: 'x' } },
      additional_properties: { anything: ['goes', 1, null] },
    },
    ok: true,
  },
  {
    name: 'lowerCamelCase names',
    doc: { type: 'postgres', cloudProvider: 'CLOUD_PROVIDER_GCP', sslConfig: { mode: 'SSL_MODE_REQUIRE', serverName: 'x' }, connectionProperties: {} },
    ok: true,
  },
  { name: 'an enum value as its number', doc: { type: 'postgres', location: 2 }, ok: true },
  { name: 'the short enum names', doc: { type: 'postgres', location: 'ON_PREM', ssl_config: { mode: 'VERIFY_CA' } }, ok: true, shorthand: true },
  { name: 'a secret as a string', doc: { type: 'postgres', credentials: { username: 'u', password: 'env://SOURCED_SECRET_X' } }, ok: true, shorthand: true },
  { name: 'an empty secret string (an empty inline value)', doc: { type: 'postgres', credentials: { password: '' } }, ok: true, shorthand: true },
  { name: 'a $schema key (not a field)', doc: { $schema: './data-source.schema.json', type: 'postgres' }, ok: false, says: '$schema: unknown field' },
  {
    name: 'a typo in a field',
    doc: { type: 'postgres', primary: { host: 'h', databse: 'x' } },
    ok: false,
    says: 'primary.databse: unknown field; did you mean "database"?',
  },
  {
    name: 'a typo in a nested secret',
    doc: { type: 'postgres', credentials: { pasword: 'x' } },
    ok: false,
    says: 'credentials.pasword: unknown field; did you mean "password"?',
  },
  { name: 'a typo at the top', doc: { type: 'postgres', primery: { host: 'h' } }, ok: false, says: 'primery: unknown field; did you mean "primary"?' },
  { name: 'an unknown top-level field', doc: { type: 'postgres', replica_config: { host: 'h' } }, ok: false, says: 'replica_config: unknown field' },
  {
    name: 'an enum value that does not exist',
    doc: { type: 'postgres', location: 'ONPREM' },
    ok: false,
    says: 'location: "ONPREM" is not one of ON_PREM, CLOUD, HYBRID (or with the LOCATION_ prefix); did you mean ON_PREM?',
  },
  { name: 'a lower-case enum value', doc: { type: 'postgres', ssl_config: { mode: 'verify-full' } }, ok: false, says: '"verify-full" is not one of' },
  { name: 'a port as text', doc: { type: 'postgres', primary: { host: 'h', port: '5432x' } }, ok: false, says: 'primary.port: must be a whole number' },
  { name: 'a negative port', doc: { type: 'postgres', primary: { host: 'h', port: -1 } }, ok: false, says: 'primary.port: must be a whole number' },
  { name: 'a number for a string', doc: { type: 'postgres', id: 7 }, ok: false, says: 'id: must be a string' },
  {
    name: 'two members of a oneof',
    doc: { type: 'postgres', credentials: { password: { reference: 'env://A', inline_value: 'b' } } },
    ok: false,
    says: 'cannot be given with reference',
  },
  { name: 'one field under both names', doc: { type: 'postgres', ssl_config: {}, sslConfig: {} }, ok: false, says: 'one field, two names' },
  { name: 'a list for an object', doc: { type: 'postgres', primary: ['h'] }, ok: false, says: 'primary: must be an object' },
  {
    name: 'properties that are not an object',
    doc: { type: 'postgres', connection_properties: 'x' },
    ok: false,
    says: 'connection_properties: must be an object',
  },
  {
    name: 'a bool as text',
    doc: { type: 'postgres', cloud_config: { use_iam_auth: 'yes' } },
    ok: false,
    says: 'cloud_config.use_iam_auth: must be true or false',
  },
];
