import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { makeCertificates } from '../harness/certs';
import { startMongoStandIn, type MongoStandIn } from '../harness/mongo/MongoStandIn';
import { ADMIN_USER, HOLD_MS, HOLD_SAMPLE_SIZE, mongoFixture, SHOP, SHOP_USER, TEST_USER, type FixturePasswords } from '../fixtures/mongodb/fixture';
import { loadMongoDataset } from '../fixtures/mongodb/load';

/** Connection facts of a MongoDB server the suites share. */
export interface MongoServerInfo {
  host: string;
  port: number;
  /** The fixture's test user (defined in `admin`). */
  user: string;
  password: string;
  /** The database data sources name (the fixture's shop). */
  database: string;
  /** The user defined in the shop database instead of admin. */
  shopUser: string;
  shopPassword: string;
  /** CA of the server certificate, for TLS. */
  caCertPem?: string;
  /** A superuser connection string, to look at the server from the side ($currentOp). */
  url: string;
  /** True for the stand-in, false for a real server from SOURCED_TEST_MONGODB_URL. */
  standIn: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** MongoDB with access control and the discovery fixture loaded (the stand-in unless SOURCED_TEST_MONGODB_URL is set). */
    mongodb: MongoServerInfo;
    /** MongoDB with TLS (a CA made for the run); null when a real server was given without SOURCED_TEST_MONGODB_TLS_URL. */
    mongodbTls: MongoServerInfo | null;
  }
}

const secret = () => `Pa55-${randomBytes(9).toString('base64url')}`;

/** Host and port of the first host of a connection string. */
function firstHost(url: string): { host: string; port: number } {
  const hosts = /^mongodb:\/\/(?:[^@/]*@)?([^/?]+)/.exec(url)?.[1];
  if (!hosts) throw new Error('SOURCED_TEST_MONGODB_URL must be a mongodb:// URL with a host (mongodb+srv is not supported for tests)');
  const first = hosts.split(',')[0];
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(first);
  return { host: m?.[1] ?? first, port: Number(m?.[2] ?? 27017) };
}

/**
 * Starts the MongoDB servers the suites share, once per run: by default two stand-ins
 * (test/harness/mongo) serving the fixture, a plain standalone one and a TLS one that
 * answers as the primary of the replica set `rs0`. With SOURCED_TEST_MONGODB_URL (a
 * superuser URL of a real server) the fixture is loaded there instead (and, with
 * SOURCED_TEST_MONGODB_TLS_URL plus SOURCED_TEST_MONGODB_CA_FILE, into a TLS server too).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const passwords: FixturePasswords = { test: secret(), shop: secret(), admin: secret() };
  const dataset = mongoFixture(passwords);
  const facts = { user: TEST_USER, password: passwords.test, database: SHOP, shopUser: SHOP_USER, shopPassword: passwords.shop };

  const realUrl = process.env.SOURCED_TEST_MONGODB_URL;
  if (realUrl) {
    await loadMongoDataset(realUrl, dataset);
    project.provide('mongodb', { ...facts, ...firstHost(realUrl), url: realUrl, standIn: false });
    const tlsUrl = process.env.SOURCED_TEST_MONGODB_TLS_URL;
    const caFile = process.env.SOURCED_TEST_MONGODB_CA_FILE;
    if (tlsUrl && caFile) {
      await loadMongoDataset(tlsUrl, dataset);
      project.provide('mongodbTls', { ...facts, ...firstHost(tlsUrl), url: tlsUrl, standIn: false, caCertPem: await readFile(caFile, 'utf8') });
    } else {
      project.provide('mongodbTls', null);
    }
    return async () => undefined;
  }

  const dir = await mkdtemp(join(tmpdir(), 'sourced-mongo-'));
  const certs = await makeCertificates(join(dir, 'certs'));
  const servers: MongoStandIn[] = [];
  try {
    servers.push(await startMongoStandIn({ dataset, sampleDelays: { [HOLD_SAMPLE_SIZE]: HOLD_MS } }));
    servers.push(
      await startMongoStandIn({
        dataset,
        sampleDelays: { [HOLD_SAMPLE_SIZE]: HOLD_MS },
        tls: { cert: certs.serverCertPem, key: certs.serverKeyPem },
        replicaSet: 'rs0',
      }),
    );
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
  const [plain, tls] = servers;
  const adminUrl = (s: MongoStandIn, extra = '') =>
    `mongodb://${ADMIN_USER}:${encodeURIComponent(passwords.admin)}@${s.host}:${s.port}/?authSource=admin&directConnection=true${extra}`;
  project.provide('mongodb', { ...facts, host: plain.host, port: plain.port, url: adminUrl(plain), standIn: true });
  project.provide('mongodbTls', { ...facts, host: tls.host, port: tls.port, url: adminUrl(tls, '&tls=true'), standIn: true, caCertPem: certs.caCertPem });
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
}
