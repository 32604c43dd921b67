/**
 * The sample database of `sourced demo`: a small shop in three schemas (`sales`, `inventory`,
 * `hr`), with what discovery reports on: primary, foreign (also across schemas) and unique
 * keys, indexes (a partial and an expression one among them), check constraints, an enum, a
 * generated column, a view per schema, a materialized view, a partitioned table with its
 * partitions, comments on tables and columns, a few thousand rows made with generate_series
 * (deterministic: the same data every run), and a read-only role `demo_reader`.
 *
 * Kept as a string (not a .sql file) so that `tsc` ships it in dist with nothing to copy.
 */

/** The schemas the seed creates. */
export const DEMO_SCHEMAS = ['hr', 'inventory', 'sales'] as const;

/** Every relation the seed creates, by schema, with its kind as the contract names it. */
export const DEMO_RELATIONS: Readonly<Record<(typeof DEMO_SCHEMAS)[number], Readonly<Record<string, DemoRelationKind>>>> = {
  hr: {
    departments: 'table',
    employees: 'table',
    employee_directory: 'view',
  },
  inventory: {
    suppliers: 'table',
    products: 'table',
    warehouses: 'table',
    stock: 'table',
    low_stock: 'view',
  },
  sales: {
    customers: 'table',
    orders: 'table',
    order_lines: 'table',
    payments: 'partitioned table',
    payments_2024: 'table',
    payments_2025: 'table',
    payments_default: 'table',
    monthly_revenue: 'materialized view',
  },
};

export type DemoRelationKind = 'table' | 'partitioned table' | 'view' | 'materialized view';

/** The read-only role the seed creates (see the demo's note on authentication). */
export const DEMO_READER = { user: 'demo_reader', password: 'demo-reader' } as const;

/** The seed, one script. */
export const DEMO_SCHEMA_SQL = `
-- Schemas ---------------------------------------------------------------------------------
CREATE SCHEMA hr;
COMMENT ON SCHEMA hr IS 'People: departments and employees';
CREATE SCHEMA inventory;
COMMENT ON SCHEMA inventory IS 'What we sell, who supplies it and where it is stored';
CREATE SCHEMA sales;
COMMENT ON SCHEMA sales IS 'Customers, their orders and payments';

-- hr --------------------------------------------------------------------------------------
CREATE TABLE hr.departments (
  department_id  smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name           text NOT NULL CONSTRAINT departments_name_key UNIQUE,
  cost_center    char(6) NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE hr.departments IS 'Organisational units';
COMMENT ON COLUMN hr.departments.cost_center IS 'Finance cost center code, such as CC0001';

CREATE TABLE hr.employees (
  employee_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  department_id  smallint NOT NULL REFERENCES hr.departments ON DELETE RESTRICT,
  manager_id     integer REFERENCES hr.employees (employee_id) ON DELETE SET NULL,
  first_name     text NOT NULL,
  last_name      text NOT NULL,
  email          text NOT NULL CONSTRAINT employees_email_key UNIQUE,
  hired_on       date NOT NULL,
  salary         numeric(10, 2) NOT NULL CHECK (salary > 0),
  active         boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE hr.employees IS 'Everyone on the payroll, past and present';
COMMENT ON COLUMN hr.employees.manager_id IS 'The employee''s line manager; NULL at the top';
COMMENT ON COLUMN hr.employees.salary IS 'Yearly gross salary in EUR';
CREATE INDEX employees_department_idx ON hr.employees (department_id);
CREATE INDEX employees_manager_idx ON hr.employees (manager_id) WHERE manager_id IS NOT NULL;

CREATE VIEW hr.employee_directory AS
  SELECT e.employee_id, e.first_name || ' ' || e.last_name AS full_name, e.email, d.name AS department
  FROM hr.employees e JOIN hr.departments d USING (department_id)
  WHERE e.active;
COMMENT ON VIEW hr.employee_directory IS 'Active employees with their department (no salaries)';

-- inventory -------------------------------------------------------------------------------
CREATE TABLE inventory.suppliers (
  supplier_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name           text NOT NULL CONSTRAINT suppliers_name_key UNIQUE,
  country        char(2) NOT NULL,
  contact_email  text
);
COMMENT ON TABLE inventory.suppliers IS 'Companies we buy products from';
COMMENT ON COLUMN inventory.suppliers.country IS 'ISO 3166-1 alpha-2 country code';

CREATE TABLE inventory.products (
  product_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku            text NOT NULL CONSTRAINT products_sku_key UNIQUE CHECK (sku ~ '^[A-Z]{3}-[0-9]{5}$'),
  name           text NOT NULL,
  supplier_id    integer NOT NULL REFERENCES inventory.suppliers,
  unit_price     numeric(10, 2) NOT NULL CHECK (unit_price >= 0),
  attributes     jsonb NOT NULL DEFAULT '{}',
  tags           text[] NOT NULL DEFAULT '{}',
  discontinued   boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE inventory.products IS 'The catalogue';
COMMENT ON COLUMN inventory.products.sku IS 'Stock keeping unit: three letters, a dash, five digits';
COMMENT ON COLUMN inventory.products.attributes IS 'Free-form attributes (colour, size, weight)';
CREATE INDEX products_supplier_idx ON inventory.products (supplier_id);
-- An expression index: case-insensitive search by name.
CREATE INDEX products_lower_name_idx ON inventory.products (lower(name));

CREATE TABLE inventory.warehouses (
  warehouse_id   smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code           char(3) NOT NULL CONSTRAINT warehouses_code_key UNIQUE,
  city           text NOT NULL,
  manager_id     integer REFERENCES hr.employees (employee_id)
);
COMMENT ON TABLE inventory.warehouses IS 'Where stock is kept';

CREATE TABLE inventory.stock (
  warehouse_id   smallint NOT NULL REFERENCES inventory.warehouses,
  product_id     integer NOT NULL REFERENCES inventory.products,
  quantity       integer NOT NULL CHECK (quantity >= 0),
  reorder_level  integer NOT NULL DEFAULT 10,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (warehouse_id, product_id)
);
COMMENT ON TABLE inventory.stock IS 'Units on hand per warehouse and product';
COMMENT ON COLUMN inventory.stock.reorder_level IS 'Reorder when quantity falls to this level';
CREATE INDEX stock_product_idx ON inventory.stock (product_id);
-- A partial index: only the rows the low_stock view reads.
CREATE INDEX stock_low_idx ON inventory.stock (product_id) WHERE quantity <= reorder_level;

CREATE VIEW inventory.low_stock AS
  SELECT w.code AS warehouse, p.sku, p.name, s.quantity, s.reorder_level
  FROM inventory.stock s
  JOIN inventory.products p USING (product_id)
  JOIN inventory.warehouses w USING (warehouse_id)
  WHERE s.quantity <= s.reorder_level AND NOT p.discontinued;
COMMENT ON VIEW inventory.low_stock IS 'Products to reorder, per warehouse';

-- sales -----------------------------------------------------------------------------------
CREATE TYPE sales.order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');

CREATE TABLE sales.customers (
  customer_id    integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email          text NOT NULL,
  full_name      text NOT NULL,
  country        char(2) NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  marketing_opt_in boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE sales.customers IS 'People and companies who buy from us';
COMMENT ON COLUMN sales.customers.email IS 'Login and contact address; unique regardless of case';
-- An expression index that is also a unique constraint: one account per address, whatever its case.
CREATE UNIQUE INDEX customers_email_lower_key ON sales.customers (lower(email));
CREATE INDEX customers_country_idx ON sales.customers (country);

CREATE TABLE sales.orders (
  order_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id    integer NOT NULL REFERENCES sales.customers ON DELETE RESTRICT,
  sales_rep_id   integer REFERENCES hr.employees (employee_id),
  status         sales.order_status NOT NULL DEFAULT 'pending',
  ordered_at     timestamptz NOT NULL,
  shipped_at     timestamptz,
  CHECK (shipped_at IS NULL OR shipped_at >= ordered_at)
);
COMMENT ON TABLE sales.orders IS 'One row per order';
COMMENT ON COLUMN sales.orders.sales_rep_id IS 'The employee credited with the sale, if any';
CREATE INDEX orders_customer_idx ON sales.orders (customer_id, ordered_at DESC);
-- A partial index: the open orders the warehouse works through.
CREATE INDEX orders_open_idx ON sales.orders (ordered_at) WHERE status IN ('pending', 'paid');

CREATE TABLE sales.order_lines (
  order_id       bigint NOT NULL REFERENCES sales.orders ON DELETE CASCADE,
  line_no        smallint NOT NULL,
  product_id     integer NOT NULL REFERENCES inventory.products,
  quantity       integer NOT NULL CHECK (quantity > 0),
  unit_price     numeric(10, 2) NOT NULL,
  line_total     numeric(12, 2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
  PRIMARY KEY (order_id, line_no)
);
COMMENT ON TABLE sales.order_lines IS 'The products of an order, at the price charged';
COMMENT ON COLUMN sales.order_lines.line_total IS 'quantity × unit_price, computed by the database';
CREATE INDEX order_lines_product_idx ON sales.order_lines (product_id);

CREATE TABLE sales.payments (
  payment_id     bigint GENERATED ALWAYS AS IDENTITY,
  order_id       bigint NOT NULL REFERENCES sales.orders,
  paid_on        date NOT NULL,
  amount         numeric(12, 2) NOT NULL CHECK (amount > 0),
  method         text NOT NULL CHECK (method IN ('card', 'transfer', 'paypal')),
  PRIMARY KEY (payment_id, paid_on)
) PARTITION BY RANGE (paid_on);
COMMENT ON TABLE sales.payments IS 'Payments received, partitioned by year';
CREATE TABLE sales.payments_2024 PARTITION OF sales.payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE sales.payments_2025 PARTITION OF sales.payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE sales.payments_default PARTITION OF sales.payments DEFAULT;
CREATE INDEX payments_order_idx ON sales.payments (order_id);

-- Data (deterministic: the same rows every run) ---------------------------------------------
INSERT INTO hr.departments (name, cost_center)
SELECT name, 'CC' || lpad(n::text, 4, '0')
FROM unnest(ARRAY['Executive', 'Sales', 'Warehouse', 'Purchasing', 'Finance', 'Engineering']) WITH ORDINALITY AS d(name, n);

INSERT INTO hr.employees (department_id, manager_id, first_name, last_name, email, hired_on, salary, active)
SELECT CASE WHEN i = 1 THEN 1 ELSE 2 + (i % 5) END,
       CASE WHEN i = 1 THEN NULL WHEN i <= 6 THEN 1 ELSE 2 + (i % 5) END,
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Niklaus'])[1 + i % 10],
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Wirth'])[1 + (i * 7) % 10],
       'employee' || i || '@shop.example',
       date '2015-01-05' + (i * 53) % 3600,
       32000 + (i * 977) % 60000,
       i % 17 <> 0
FROM generate_series(1, 60) AS i;

INSERT INTO inventory.suppliers (name, country, contact_email)
SELECT 'Supplier ' || lpad(i::text, 3, '0'), (ARRAY['DE', 'FR', 'NL', 'US', 'CN', 'IT', 'PL'])[1 + i % 7], 'orders@supplier' || i || '.example'
FROM generate_series(1, 25) AS i;

INSERT INTO inventory.products (sku, name, supplier_id, unit_price, attributes, tags, discontinued)
SELECT (ARRAY['HOM', 'GAR', 'KIT', 'TOY', 'OFF'])[1 + i % 5] || '-' || lpad(i::text, 5, '0'),
       (ARRAY['Mug', 'Lamp', 'Chair', 'Kettle', 'Notebook', 'Plant pot', 'Puzzle', 'Pan'])[1 + i % 8] || ' #' || i,
       1 + i % 25,
       round((2 + (i * 37) % 250 + (i % 100) / 100.0)::numeric, 2),
       jsonb_build_object('colour', (ARRAY['red', 'green', 'blue', 'black'])[1 + i % 4], 'weight_g', 100 + (i * 13) % 900),
       ARRAY[(ARRAY['new', 'sale', 'eco', 'bestseller'])[1 + i % 4]],
       i % 23 = 0
FROM generate_series(1, 200) AS i;

INSERT INTO inventory.warehouses (code, city, manager_id)
VALUES ('BER', 'Berlin', 8), ('LYS', 'Lyon', 13), ('RTM', 'Rotterdam', 18), ('WAW', 'Warsaw', NULL);

INSERT INTO inventory.stock (warehouse_id, product_id, quantity, reorder_level)
SELECT w, p, (w * 31 + p * 17) % 120, 10 + (p % 3) * 5
FROM generate_series(1, 4) AS w, generate_series(1, 200) AS p;

INSERT INTO sales.customers (email, full_name, country, created_at, marketing_opt_in)
SELECT 'customer' || i || '@mail.example',
       (ARRAY['Alex', 'Sam', 'Kim', 'Robin', 'Charlie', 'Jo'])[1 + i % 6] || ' ' || (ARRAY['Meyer', 'Martin', 'de Vries', 'Smith', 'Rossi', 'Nowak', 'Garcia'])[1 + i % 7],
       (ARRAY['DE', 'FR', 'NL', 'US', 'IT', 'PL', 'ES'])[1 + i % 7],
       timestamptz '2023-06-01 00:00+00' + make_interval(hours => i * 13),
       i % 3 = 0
FROM generate_series(1, 500) AS i;

INSERT INTO sales.orders (customer_id, sales_rep_id, status, ordered_at, shipped_at)
SELECT 1 + (i * 7) % 500,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 7 + (i % 10) * 5 END,
       s.status,
       o.at,
       CASE WHEN s.status IN ('shipped', 'delivered') THEN o.at + interval '2 days' END
FROM generate_series(1, 2000) AS i
CROSS JOIN LATERAL (SELECT timestamptz '2024-01-01 08:00+00' + make_interval(hours => i * 9) AS at) AS o
CROSS JOIN LATERAL (SELECT (CASE WHEN i > 1950 THEN (ARRAY['pending', 'paid'])[1 + i % 2]
                                 WHEN i % 29 = 0 THEN 'cancelled'
                                 ELSE 'delivered' END)::sales.order_status AS status) AS s;

INSERT INTO sales.order_lines (order_id, line_no, product_id, quantity, unit_price)
SELECT o, l, p, 1 + (o + l) % 4, pr.unit_price
FROM generate_series(1, 2000) AS o,
     generate_series(1, 3) AS l,
     LATERAL (SELECT 1 + (o * 13 + l * 71) % 200 AS p) AS pick
JOIN inventory.products pr ON pr.product_id = pick.p
WHERE l <= 1 + o % 3;

INSERT INTO sales.payments (order_id, paid_on, amount, method)
SELECT o.order_id, (o.ordered_at + interval '1 hour')::date, t.total, (ARRAY['card', 'transfer', 'paypal'])[1 + o.order_id % 3]
FROM sales.orders o
JOIN (SELECT order_id, sum(line_total) AS total FROM sales.order_lines GROUP BY order_id) AS t USING (order_id)
WHERE o.status NOT IN ('pending', 'cancelled');

CREATE MATERIALIZED VIEW sales.monthly_revenue AS
  SELECT date_trunc('month', paid_on)::date AS month, count(*) AS payments, sum(amount) AS revenue
  FROM sales.payments
  GROUP BY 1;
COMMENT ON MATERIALIZED VIEW sales.monthly_revenue IS 'Revenue per month, refreshed nightly';
CREATE UNIQUE INDEX monthly_revenue_month_key ON sales.monthly_revenue (month);

-- A read-only role for the people who read this database --------------------------------------
CREATE ROLE ${DEMO_READER.user} LOGIN PASSWORD '${DEMO_READER.password}';
COMMENT ON ROLE ${DEMO_READER.user} IS 'Read-only access for reporting and discovery';
GRANT USAGE ON SCHEMA hr, inventory, sales TO ${DEMO_READER.user};
GRANT SELECT ON ALL TABLES IN SCHEMA hr, inventory, sales TO ${DEMO_READER.user};
ALTER DEFAULT PRIVILEGES IN SCHEMA hr, inventory, sales GRANT SELECT ON TABLES TO ${DEMO_READER.user};

ANALYZE;
`;
