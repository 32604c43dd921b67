/**
 * A realistic SQLite database for the tests, written with the same driver the plugin reads it
 * with (better-sqlite3, writable here): a small shop with keys, foreign keys, indexes (partial,
 * on expressions, descending), views (one broken: its table was dropped), a full-text
 * virtual table (whose shadow tables discovery must leave out), a STRICT table, a WITHOUT
 * ROWID table, a generated column, statistics from ANALYZE, and 24 more tables, in WAL mode.
 */
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const METRIC_TABLES = Array.from({ length: 24 }, (_, i) => `metrics_${String(i + 1).padStart(2, '0')}`);

/** Every relation discovery must report, in (schema, name) byte order. */
export const EXPECTED_RELATIONS = [
  'Order Notes',
  'addresses',
  'customers',
  ...METRIC_TABLES,
  'order_items',
  'orders',
  'product_search',
  'products',
  'v_broken',
  'v_customer_orders',
  'v_open_orders',
];

export interface Fixture {
  /** The plugin's root folder (a real path). */
  root: string;
  /** A folder beside the root, which the plugin must never read. */
  outside: string;
}

/** Creates the root with `shop.db`, `empty.db`, `notes.txt`, `sub/inner.db`, and symbolic links pointing out of it. */
export function createFixture(): Fixture {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'sourced-sqlite-')));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);

  writeShop(join(root, 'shop.db'));
  new Database(join(root, 'empty.db')).close();
  const inner = new Database(join(root, 'sub', 'inner.db'));
  inner.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  inner.close();
  writeFileSync(join(root, 'notes.txt'), 'this is not a database, though it sits in the folder\n'.repeat(20));

  const secret = new Database(join(outside, 'secret.db'));
  secret.exec('CREATE TABLE payroll (employee TEXT, salary INTEGER)');
  secret.close();
  symlinkSync(join(outside, 'secret.db'), join(root, 'link-out.db'));
  symlinkSync(outside, join(root, 'dir-out'));
  symlinkSync(join(root, 'shop.db'), join(root, 'link-in.db'));
  return { root, outside };
}

function writeShop(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE customers (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      email TEXT NOT NULL UNIQUE,
      name VARCHAR(120) NOT NULL,
      created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX idx_customers_email_lower ON customers (lower(email));

    CREATE TABLE addresses (
      id INTEGER PRIMARY KEY,
      customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
      line1 TEXT NOT NULL,
      city TEXT,
      country CHAR(2) NOT NULL DEFAULT 'DE'
    );
    CREATE UNIQUE INDEX idx_addresses_customer_line ON addresses (customer_id, line1);

    CREATE TABLE products (
      sku TEXT PRIMARY KEY,
      title VARCHAR(200) NOT NULL,
      price NUMERIC(10, 2) NOT NULL CHECK (price >= 0),
      weight_kg REAL,
      picture BLOB
    ) WITHOUT ROWID;

    CREATE TABLE orders (
      id INTEGER PRIMARY KEY,
      customer_id INTEGER NOT NULL REFERENCES Customers,
      status TEXT NOT NULL DEFAULT 'new',
      total NUMERIC,
      placed_at TEXT
    );
    CREATE INDEX idx_orders_customer_placed ON orders (customer_id, placed_at DESC);
    CREATE INDEX idx_orders_open ON orders (status) WHERE status <> 'done';

    CREATE TABLE order_items (
      order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      line INTEGER NOT NULL,
      sku TEXT NOT NULL REFERENCES products (sku) ON UPDATE CASCADE,
      quantity INTEGER NOT NULL CHECK (quantity > 0),
      unit_price NUMERIC NOT NULL,
      amount NUMERIC GENERATED ALWAYS AS (quantity * unit_price) VIRTUAL,
      PRIMARY KEY (order_id, line)
    );

    CREATE TABLE "Order Notes" (order_id INTEGER REFERENCES orders, note);

    CREATE VIRTUAL TABLE product_search USING fts5 (title, description);

    CREATE VIEW v_customer_orders AS
      SELECT c.id AS customer_id, c.email, o.id AS order_id, o.total
      FROM customers c JOIN orders o ON o.customer_id = c.id;
    CREATE VIEW IF NOT EXISTS v_open_orders (id, status) AS SELECT id, status FROM orders WHERE status <> 'done';

    CREATE TABLE scratch (x);
    CREATE VIEW v_broken AS SELECT x FROM scratch;
    DROP TABLE scratch;
  `);
  for (const t of METRIC_TABLES) db.exec(`CREATE TABLE ${t} (ts TEXT NOT NULL PRIMARY KEY, value REAL, host TEXT) STRICT`);

  const customer = db.prepare('INSERT INTO customers (email, name) VALUES (?, ?)');
  const order = db.prepare('INSERT INTO orders (customer_id, status, total, placed_at) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= 50; i++) {
      customer.run(`user${i}@example.com`, `User ${i}`);
      order.run(i, i % 3 === 0 ? 'done' : 'new', i * 10, `2024-01-${String((i % 28) + 1).padStart(2, '0')}`);
    }
  })();
  db.exec('ANALYZE');
  db.close();
}
