import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TargetDeniedError, TargetPolicy, type TargetResolver } from '../src';

/** A resolver that answers from a table, as DNS would. */
const table =
  (entries: Record<string, string[]>): TargetResolver =>
  async (host) => {
    const found = entries[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

async function deniedBy(policy: TargetPolicy, host: string): Promise<{ rule: string; address?: string; message: string }> {
  try {
    await policy.resolve(host);
  } catch (error) {
    expect(error).toBeInstanceOf(TargetDeniedError);
    const d = error as TargetDeniedError;
    expect(d.reason).toBe('TARGET_DENIED');
    return { rule: d.rule, address: d.address, message: d.message };
  }
  throw new Error(`${host} was allowed`);
}

describe('TargetPolicy', () => {
  /** With no rules, every address is allowed but link-local and metadata ones, in any spelling. */
  it('denies link-local and cloud metadata addresses by default', async () => {
    const policy = new TargetPolicy({ allow: [], deny: [] }, { resolver: table({ 'metadata.example': ['169.254.169.254'], 'db.example': ['192.0.2.10'] }) });
    expect(await deniedBy(policy, '169.254.169.254')).toMatchObject({ rule: '169.254.0.0/16', address: '169.254.169.254' });
    expect((await deniedBy(policy, '169.254.169.254')).message).toContain('targets.allowLinkLocal');
    // the same address as an IPv4-mapped IPv6 address, in brackets, or behind NAT64
    expect(await deniedBy(policy, '::ffff:169.254.169.254')).toMatchObject({ rule: '169.254.0.0/16' });
    expect(await deniedBy(policy, '[::ffff:a9fe:a9fe]')).toMatchObject({ rule: '169.254.0.0/16' });
    expect(await deniedBy(policy, '64:ff9b::169.254.169.254')).toMatchObject({ rule: '169.254.0.0/16' });
    expect(await deniedBy(policy, 'fd00:ec2::254')).toMatchObject({ rule: 'fd00:ec2::254/128' });
    expect(await deniedBy(policy, 'fe80::1')).toMatchObject({ rule: 'fe80::/10' });
    // a name is checked by what it resolves to
    expect(await deniedBy(policy, 'metadata.example')).toMatchObject({ rule: '169.254.0.0/16', address: '169.254.169.254' });
    expect(await policy.resolve('db.example')).toEqual([{ address: '192.0.2.10', family: 4 }]);
    expect(await policy.resolve('127.0.0.1')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    // allowLinkLocal lifts the built-in list
    const lifted = new TargetPolicy({ allow: [], deny: [], allowLinkLocal: true });
    expect(await lifted.resolve('169.254.169.254')).toEqual([{ address: '169.254.169.254', family: 4 }]);
  });

  /**
   * Issue 15: the metadata services of Alibaba Cloud and Azure, GCP's by name, the IPv6 prefixes
   * that reach IPv4 through a gateway (6to4, NAT64), and every IPv6 form that carries a denied
   * IPv4 address (mapped, compatible, translated, 6to4, NAT64), for built-in and operator rules.
   */
  it('denies the other metadata services, translation prefixes and every IPv6 form of a denied IPv4 address', async () => {
    const policy = new TargetPolicy(
      { allow: [], deny: ['10.9.0.0/16'] },
      { resolver: table({ 'metadata.google.internal': ['192.0.2.10'], 'db.example': ['192.0.2.10'] }) },
    );
    expect(await deniedBy(policy, '100.100.100.200')).toMatchObject({ rule: '100.100.100.200/32' });
    expect(await deniedBy(policy, '168.63.129.16')).toMatchObject({ rule: '168.63.129.16/32' });
    expect(await deniedBy(policy, 'fd00:ec2::254')).toMatchObject({ rule: 'fd00:ec2::254/128' });
    const byName = await deniedBy(policy, 'Metadata.Google.Internal.');
    expect(byName).toMatchObject({ rule: 'metadata.google.internal', address: undefined });
    expect(byName.message).toContain('targets.allowLinkLocal');
    // 6to4 and NAT64 prefixes, whatever IPv4 address they carry
    expect(await deniedBy(policy, '2002:a9fe:a9fe::1')).toMatchObject({ rule: '169.254.0.0/16' });
    expect(await deniedBy(policy, '2002:a9fe:1::')).toMatchObject({ rule: '169.254.0.0/16' });
    expect(await deniedBy(policy, '64:ff9b::808:808')).toMatchObject({ rule: '64:ff9b::/96' });
    expect((await deniedBy(policy, '64:ff9b::808:808')).message).toContain('reaches IPv4 addresses through a translator');
    expect(await deniedBy(policy, '64:ff9b:1::a9fe:a9fe')).toMatchObject({ rule: '64:ff9b:1::/48' });
    // IPv4-compatible, mapped and translated forms of denied addresses, built-in or the operator's
    for (const form of ['::169.254.169.254', '::a9fe:a9fe', '::ffff:169.254.169.254', '::ffff:0:a9fe:a9fe', '[::ffff:100.100.100.200]', '::ffff:a83f:8110']) {
      const denied = await deniedBy(policy, form);
      expect(denied.rule, form).toMatch(/^(169\.254\.0\.0\/16|100\.100\.100\.200\/32|168\.63\.129\.16\/32)$/);
    }
    expect((await deniedBy(policy, '::a9fe:a9fe')).message).toContain('::a9fe:a9fe carries 169.254.169.254');
    expect(await deniedBy(policy, '::10.9.1.1')).toMatchObject({ rule: '10.9.0.0/16' });
    expect(await deniedBy(policy, '::ffff:10.9.1.1')).toMatchObject({ rule: '10.9.0.0/16' });
    expect(await deniedBy(policy, '2002:0a09:0101::')).toMatchObject({ rule: '10.9.0.0/16' });
    // what carries no denied address passes; :: and ::1 are not IPv4-compatible addresses
    expect(await policy.resolve('::ffff:192.0.2.10')).toHaveLength(1);
    expect(await policy.resolve('::1')).toEqual([{ address: '::1', family: 6 }]);
    expect(await policy.resolve('2002:c000:20a::1')).toHaveLength(1);
    // allowLinkLocal lifts the built-in names and blocks too
    const lifted = new TargetPolicy({ allow: [], deny: [], allowLinkLocal: true }, { resolver: table({ 'metadata.google.internal': ['169.254.169.254'] }) });
    expect(await lifted.resolve('metadata.google.internal')).toEqual([{ address: '169.254.169.254', family: 4 }]);
    expect(await lifted.resolve('64:ff9b::808:808')).toHaveLength(1);
  });

  /** Host-name globs are matched without backtracking: a crafted deny pattern against a long name answers at once. */
  it('matches host-name patterns in linear time', async () => {
    const policy = new TargetPolicy({ allow: [], deny: [`${'*a'.repeat(30)}*s`] }, { resolver: table({ [`${'a'.repeat(200)}.example`]: ['192.0.2.1'] }) });
    const started = performance.now();
    expect(await policy.resolve(`${'a'.repeat(200)}.example`)).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  /** An allow list admits addresses in its blocks and names matching its patterns; deny wins; addresses outside are dropped. */
  it('applies allow and deny lists to names and resolved addresses', async () => {
    const policy = new TargetPolicy(
      { allow: ['10.0.0.0/8', '*.db.example.com', '2001:db8::/32'], deny: ['10.9.0.0/16', 'legacy.db.example.com'] },
      {
        resolver: table({
          'a.db.example.com': ['192.0.2.1'],
          'legacy.db.example.com': ['10.1.1.1'],
          'mixed.example.org': ['203.0.113.5', '10.2.2.2'],
          'outside.example.org': ['203.0.113.5'],
          'rebound.db.example.com': ['10.9.1.1'],
          'v6.example.org': ['2001:db8::5'],
        }),
      },
    );
    // allowed by name, whatever the address (but the built-in and explicit denies still apply)
    expect(await policy.resolve('a.db.example.com')).toEqual([{ address: '192.0.2.1', family: 4 }]);
    expect(await policy.resolve('A.DB.Example.com.')).toEqual([{ address: '192.0.2.1', family: 4 }]);
    expect(await deniedBy(policy, 'rebound.db.example.com')).toMatchObject({ rule: '10.9.0.0/16' });
    // a denied name is refused before it is resolved
    expect(await deniedBy(policy, 'legacy.db.example.com')).toMatchObject({ rule: 'legacy.db.example.com', address: undefined });
    // allowed by block
    expect(await policy.resolve('10.3.4.5')).toEqual([{ address: '10.3.4.5', family: 4 }]);
    expect(await policy.resolve('v6.example.org')).toEqual([{ address: '2001:db8::5', family: 6 }]);
    // only the allowed addresses of a name are dialled
    expect(await policy.resolve('mixed.example.org')).toEqual([{ address: '10.2.2.2', family: 4 }]);
    const outside = await deniedBy(policy, 'outside.example.org');
    expect(outside).toMatchObject({ rule: 'targets.allow', address: '203.0.113.5' });
    expect(outside.message).toBe("connecting to outside.example.org (203.0.113.5) is refused: it is not in the daemon's allowed targets (targets.allow)");
    expect(await deniedBy(policy, '10.9.0.1')).toMatchObject({ rule: '10.9.0.0/16' });
  });

  /** A name that resolves to any explicitly denied address is refused outright, even when another address is fine. */
  it('refuses a name pointing at a denied address among good ones', async () => {
    const policy = new TargetPolicy({ allow: [], deny: [] }, { resolver: table({ 'sneaky.example': ['192.0.2.1', '169.254.169.254'] }) });
    expect(await deniedBy(policy, 'sneaky.example')).toMatchObject({ rule: '169.254.0.0/16', address: '169.254.169.254' });
  });

  /** Entries that are neither blocks, addresses nor name patterns are refused with the entry named. */
  it('refuses bad entries', () => {
    expect(() => new TargetPolicy({ allow: ['10.0.0.0/40'], deny: [] })).toThrow('targets.allow: "10.0.0.0/40" has a bad prefix length (0-32)');
    expect(() => new TargetPolicy({ allow: [], deny: ['db.example.com:5432'] })).toThrow(
      'targets.deny: "db.example.com:5432" is neither a CIDR block, an address nor a host-name pattern',
    );
    expect(() => new TargetPolicy({ allow: [''], deny: [] })).toThrow('targets.allow has an empty entry');
  });

  describe('on the socket', () => {
    let server: Server;
    let port: number;
    let accepted = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        accepted++;
        s.end();
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const outcome = (socket: import('node:net').Socket) =>
      new Promise<string>((resolve) => {
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });

    /** The address dialled is the one the policy vetted at that moment: a name that rebinds to a denied address fails at the dial. */
    it('dials only vetted addresses, asking the resolver at the dial', async () => {
      let answers = ['127.0.0.1'];
      const policy = new TargetPolicy({ allow: [], deny: ['127.0.0.2'] }, { resolver: async () => answers.map((address) => ({ address, family: 4 })) });
      const before = accepted;
      expect(await outcome(policy.connect({ host: 'db.rebind.test', port }))).toBe('connected');
      answers = ['127.0.0.2'];
      expect(await outcome(policy.connect({ host: 'db.rebind.test', port }))).toBe('ETARGETDENIED');
      // the socket a driver connects itself (pg) behaves the same, for names and addresses
      const socket = policy.socket();
      const result = outcome(socket);
      socket.connect(port, 'db.rebind.test');
      expect(await result).toBe('ETARGETDENIED');
      const literal = policy.socket();
      const literalResult = outcome(literal);
      literal.connect({ port, host: '127.0.0.2' });
      expect(await literalResult).toBe('ETARGETDENIED');
      // only the first dial reached the server
      await new Promise((r) => setTimeout(r, 50));
      expect(accepted - before).toBe(1);
    });
  });

  /** The SOCKS5 guard serves only logins of its leases: another local process cannot use it to reach anything. */
  it('serves only clients with a lease of its own', async () => {
    const policy = TargetPolicy.defaults();
    const lease = await policy.socksGuard().lease();
    const exchange = async (messages: Buffer[]): Promise<Buffer> => {
      const socket: Socket = connect(lease.port, lease.host);
      await once(socket, 'connect');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      for (const m of messages) {
        socket.write(m);
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 500))]);
      socket.destroy();
      return Buffer.concat(chunks);
    };
    const login = (user: string, password: string) =>
      Buffer.concat([Buffer.from([1, user.length]), Buffer.from(user), Buffer.from([password.length]), Buffer.from(password)]);
    try {
      // no authentication offered: no acceptable method
      expect([...(await exchange([Buffer.from([5, 1, 0])]))]).toEqual([5, 0xff]);
      // a wrong password: refused at the login
      expect([...(await exchange([Buffer.from([5, 1, 2]), login(lease.username, 'x'.repeat(lease.password.length))]))]).toEqual([5, 2, 1, 1]);
      // the lease's login, then CONNECT to the metadata address: logged in, then refused by rule (reply 2)
      const connectTo = Buffer.from([5, 1, 0, 1, 169, 254, 169, 254, 0, 80]);
      const reply = await exchange([Buffer.from([5, 1, 2]), login(lease.username, lease.password), connectTo]);
      expect([...reply.subarray(0, 4)]).toEqual([5, 2, 1, 0]);
      expect(reply[5]).toBe(2);
      expect(lease.lastDenial?.rule).toBe('169.254.0.0/16');
      // a released lease logs in no more
      lease.release();
      expect([...(await exchange([Buffer.from([5, 1, 2]), login(lease.username, lease.password)]))]).toEqual([5, 2, 1, 1]);
    } finally {
      await policy.close();
    }
  });
});
