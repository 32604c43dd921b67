/**
 * Values of a MySQL/MariaDB profile that the preview's rendering does not cover as they come:
 * a BIT given as its decimal text, and the storage size of a fixed-size type's values.
 */
import type { Cell } from '@sourced/core';
import { baseTypeOf, renderCell } from './preview';

/**
 * A value whose bytes are its text where the type's own rendering expects something else:
 * a BIT as a decimal number (what MIN/MAX, CAST(… AS UNSIGNED) and mysql.column_stats give),
 * rendered as the integer it is; every other type as the preview renders it.
 */
export function numberTextCell(type: string, raw: Buffer | null): Cell {
  return renderCell(baseTypeOf(type) === 'bit' ? 'bigint unsigned' : type, raw);
}

/**
 * The storage size in bytes of every non-null value of a fixed-size type (what MariaDB's
 * mysql.column_stats avg_length reports for it), or undefined for a type whose values vary
 * in size (strings, binary strings, JSON, spatial: their LENGTH() in bytes is measured).
 */
export function fixedStorageBytes(type: string): number | undefined {
  const base = baseTypeOf(type);
  const args = /\(([^)]*)\)/.exec(type)?.[1];
  const n = (i: number, fallback: number) => {
    const v = Number(args?.split(',')[i]?.trim());
    return Number.isFinite(v) && args !== undefined && args.split(',').at(i) !== undefined ? v : fallback;
  };
  const fraction = () => Math.ceil(n(0, 0) / 2);
  switch (base) {
    case 'tinyint':
      return 1;
    case 'smallint':
      return 2;
    case 'mediumint':
      return 3;
    case 'int':
    case 'integer':
      return 4;
    case 'bigint':
      return 8;
    case 'float':
      return n(0, 0) > 24 ? 8 : 4;
    case 'double':
    case 'real':
      return 8;
    case 'decimal':
    case 'numeric':
    case 'dec':
    case 'fixed': {
      const precision = n(0, 10);
      const scale = n(1, 0);
      const digits = (d: number) => Math.floor(d / 9) * 4 + [0, 1, 1, 2, 2, 3, 3, 4, 4][d % 9];
      return digits(precision - scale) + digits(scale);
    }
    case 'date':
      return 3;
    case 'year':
      return 1;
    case 'time':
      return 3 + fraction();
    case 'datetime':
      return 5 + fraction();
    case 'timestamp':
      return 4 + fraction();
    case 'bit':
      return Math.floor((n(0, 1) + 7) / 8);
    case 'enum':
      return (args?.split(',').length ?? 1) > 255 ? 2 : 1;
    case 'set': {
      const members = args?.split(',').length ?? 1;
      return members <= 8 ? 1 : members <= 16 ? 2 : members <= 24 ? 3 : members <= 32 ? 4 : 8;
    }
    case 'inet4':
      return 4;
    case 'inet6':
    case 'uuid':
      return 16;
    default:
      return undefined;
  }
}
