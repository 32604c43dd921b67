/**
 * Index definitions without `pg_get_indexdef()` for the common shape (issue 18).
 *
 * `pg_get_indexdef()` looks up the index, its table, access method, every key's attribute,
 * operator class and collation through the system caches and deparses the result: at
 * 10,000 tables (27,000 indexes) it was most of the server's time of a discovery. A plain
 * B-tree index (column keys only, no predicate, no storage parameters, no NULLS NOT DISTINCT,
 * every key with its column's collation and its type's default operator class) prints from
 * what the catalog query already returns, so its definition is built here with the same rules
 * (ruleutils.c `pg_get_indexdef_worker`, `quote_identifier`, `GetDefaultOpClass`); every other
 * index gets the server's own text. test/postgres.indexdef.test.ts compares both on a
 * fixture of every index shape.
 */
import type { Client } from 'pg';
import { query } from './query';

/** What the definitions need from the server once per connection. */
export interface IndexDictionary {
  /** server_version_num. */
  version: number;
  /** Words `quote_identifier` quotes (every keyword that is not unreserved). */
  keywords: ReadonlySet<string>;
  /** `quote_all_identifiers` is on: every name quoted (then the server prints every definition). */
  quoteAll: boolean;
  /** Operator class oid → its name and whether it is the default of its method for its input type (opcdefault). */
  opclasses: ReadonlyMap<number, { name: string; isDefault: boolean }>;
  /** Base type oid → the B-tree operator class `GetDefaultOpClass` picks for it (absent: none or ambiguous). */
  defaultOpclass: ReadonlyMap<number, number>;
}

/**
 * One round trip per connection. The default operator class per base type follows
 * `GetDefaultOpClass`: the default class of the type itself; else, among the default classes
 * its type is binary-coercible to (an implicit binary cast), the one whose type is the preferred
 * type of its category (varchar: text_ops, not bpchar_ops), or the only one. When that picks
 * none, keys of the type get the server's text.
 */
const DICTIONARY_SQL = `
SELECT current_setting('server_version_num')::int AS version,
       current_setting('quote_all_identifiers')::boolean AS quote_all,
       (SELECT array_agg(word::text) FROM pg_get_keywords() WHERE catcode <> 'U') AS keywords,
       (SELECT json_agg(json_build_array(oc.oid::int8, oc.opcname::text, oc.opcdefault)) FROM pg_opclass oc)::text AS opclasses,
       (SELECT json_agg(json_build_array(d.type::int8, d.opclass::int8))
        FROM (SELECT t.oid AS type,
                     (SELECT CASE WHEN bool_or(oc.opcintype = t.oid) THEN min(oc.oid) FILTER (WHERE oc.opcintype = t.oid)
                                  WHEN count(*) FILTER (WHERE it.typispreferred AND it.typcategory = t.typcategory) = 1
                                    THEN min(oc.oid) FILTER (WHERE it.typispreferred AND it.typcategory = t.typcategory)
                                  WHEN count(*) FILTER (WHERE it.typispreferred AND it.typcategory = t.typcategory) = 0 AND count(*) = 1
                                    THEN min(oc.oid) END
                      FROM pg_opclass oc
                      JOIN pg_type it ON it.oid = oc.opcintype
                      WHERE oc.opcmethod = (SELECT oid FROM pg_am WHERE amname = 'btree') AND oc.opcdefault
                        AND (oc.opcintype = t.oid
                             OR EXISTS (SELECT 1 FROM pg_cast cs WHERE cs.castsource = t.oid AND cs.casttarget = oc.opcintype
                                                                   AND cs.castmethod = 'b' AND cs.castcontext = 'i'))) AS opclass
              FROM pg_type t
              -- only types a default B-tree class takes, directly or by a binary cast, looked up
              -- by oid: pg_type holds two rows per table, and scanning it cost 31 ms at 50,000
              WHERE t.oid IN (SELECT oc.opcintype FROM pg_opclass oc WHERE oc.opcdefault
                              UNION SELECT cs.castsource FROM pg_cast cs WHERE cs.castmethod = 'b' AND cs.castcontext = 'i')
                AND t.typtype = 'b' AND t.typcategory <> 'A' AND t.typisdefined) d
        WHERE d.opclass IS NOT NULL)::text AS defaults`;

interface DictionaryRow {
  version: number;
  quote_all: boolean;
  keywords: string[] | null;
  opclasses: string | null;
  defaults: string | null;
}

const dictionaries = new WeakMap<Client, Promise<IndexDictionary>>();

/**
 * The connection's dictionary, read on first use (a failed read is not kept), through `via`, a
 * connection to the same server (the page's first reads keep `client` busy).
 */
export function indexDictionary(client: Client, signal: AbortSignal, via: Client = client): Promise<IndexDictionary> {
  let cached = dictionaries.get(client);
  if (!cached) {
    cached = query<DictionaryRow>(via, DICTIONARY_SQL, [], signal).then(([row]) => ({
      version: row.version,
      quoteAll: row.quote_all,
      keywords: new Set(row.keywords ?? []),
      opclasses: new Map(
        (JSON.parse(row.opclasses ?? '[]') as [number, string, boolean][]).map(([oid, name, isDefault]) => [oid, { name, isDefault }] as const),
      ),
      defaultOpclass: new Map(JSON.parse(row.defaults ?? '[]') as [number, number][]),
    }));
    dictionaries.set(client, cached);
    cached.catch(() => dictionaries.delete(client));
  }
  return cached;
}

/** `quote_identifier()`: as is when lower-case letters, digits and `_` (not first a digit) and not a keyword that needs quoting. */
export function quoteIdentifier(name: string, dictionary: IndexDictionary): string {
  const safe = /^[a-z_][a-z0-9_]*$/.test(name) && !dictionary.keywords.has(name) && !dictionary.quoteAll;
  return safe ? name : `"${name.replace(/"/g, '""')}"`;
}

/** pg_index.indoption bits (pg_index.h). */
export const INDOPTION_DESC = 1;
export const INDOPTION_NULLS_FIRST = 2;

/** The live columns of an index's table, by attribute number (undefined: no such column). */
export interface IndexTableColumns {
  nameOf(attnum: number): string | undefined;
  typeOf(attnum: number): number | undefined;
  collationOf(attnum: number): number | undefined;
}

/** What a plain B-tree index's definition is built from (the index query's row has these fields). */
export interface PlainIndexShape {
  name: string;
  is_unique: boolean;
  /** An index of a partitioned table (relkind `I`): `ON ONLY`. */
  partitioned: boolean;
  key_count: number;
  /** Attribute numbers of the key columns, then of the INCLUDE columns. */
  keys: number[];
  opclasses: number[];
  collations: number[];
  options: number[];
}

/**
 * Quotes names with {@link quoteIdentifier}, remembering the schemas' and the last table's
 * (a page's indexes come grouped by table), so that a page quotes each once.
 */
export class NameQuoter {
  private readonly schemas = new Map<string, string>();
  private table = '';
  private tableQuoted = '';

  constructor(private readonly dictionary: IndexDictionary) {}

  quote(name: string): string {
    return quoteIdentifier(name, this.dictionary);
  }

  schema(name: string): string {
    let quoted = this.schemas.get(name);
    if (quoted === undefined) {
      quoted = quoteIdentifier(name, this.dictionary);
      this.schemas.set(name, quoted);
    }
    return quoted;
  }

  relation(name: string): string {
    if (name !== this.table || this.tableQuoted === '') {
      this.table = name;
      this.tableQuoted = quoteIdentifier(name, this.dictionary);
    }
    return this.tableQuoted;
  }
}

/**
 * The definition `pg_get_indexdef()` prints for a plain B-tree index of `table`, or undefined
 * when a key is not plain (an expression, a collation other than its column's, an operator
 * class other than the type's default, a type without a known default): the caller then asks
 * the server.
 */
export function plainIndexDefinition(
  shape: PlainIndexShape,
  table: { schema: string; name: string },
  columns: IndexTableColumns,
  dictionary: IndexDictionary,
  names: NameQuoter = new NameQuoter(dictionary),
): string | undefined {
  if (dictionary.quoteAll) return undefined;
  let keys = '';
  for (let k = 0; k < shape.key_count; k++) {
    const attnum = shape.keys[k];
    const name = columns.nameOf(attnum);
    if (name === undefined) return undefined;
    const collation = shape.collations[k] ?? 0;
    if (collation !== 0 && collation !== columns.collationOf(attnum)) return undefined;
    const type = columns.typeOf(attnum);
    if (type === undefined || dictionary.defaultOpclass.get(type) !== shape.opclasses[k]) return undefined;
    const option = shape.options[k] ?? 0;
    if (k > 0) keys += ', ';
    keys += names.quote(name);
    if (option & INDOPTION_DESC) keys += option & INDOPTION_NULLS_FIRST ? ' DESC' : ' DESC NULLS LAST';
    else if (option & INDOPTION_NULLS_FIRST) keys += ' NULLS FIRST';
  }
  let include = '';
  for (let k = shape.key_count; k < shape.keys.length; k++) {
    const name = columns.nameOf(shape.keys[k]);
    if (name === undefined) return undefined;
    include += (include === '' ? ' INCLUDE (' : ', ') + names.quote(name);
  }
  if (include !== '') include += ')';
  return (
    `CREATE ${shape.is_unique ? 'UNIQUE ' : ''}INDEX ${names.quote(shape.name)} ON ${shape.partitioned ? 'ONLY ' : ''}` +
    `${names.schema(table.schema)}.${names.relation(table.name)} USING btree (${keys})${include}`
  );
}

/** The server's definitions of the indexes `oids` (those not built here), one round trip. */
export async function serverIndexDefinitions(client: Client, oids: string[], signal: AbortSignal): Promise<Map<string, string>> {
  if (oids.length === 0) return new Map();
  const rows = await query<{ oid: string; definition: string | null }>(
    client,
    'SELECT x.oid::int8 AS oid, pg_get_indexdef(x.oid) AS definition FROM unnest($1::oid[]) AS x(oid)',
    [oids],
    signal,
  );
  return new Map(rows.flatMap((r) => (r.definition === null ? [] : [[r.oid, r.definition] as const])));
}
