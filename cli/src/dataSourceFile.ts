import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { DataSource } from '@sourced/api';
import { dataSourceDescriptor, normalizeMessage, type FormatProblem } from './dataSourceFormat';
import { DataSourceFileError } from './errors';

export { DataSourceFileError };

/**
 * Reads a data source from a JSON or YAML file: the contract's proto3 JSON (field names as in the
 * proto or in lowerCamelCase), optionally wrapped as `{ "data_source": ... }`, with enum values
 * with or without their prefix (`ON_PREM` or `LOCATION_ON_PREM`) and a secret as a plain string
 * (a `scheme://` reference, a `sourced:enc:` envelope, otherwise an inline value). Anything else
 * (an unknown field, a value of the wrong type, an enum value that does not exist) is refused,
 * naming the path and, for a typo, the nearest known field. docs/data-source.schema.json is the
 * same format as a JSON Schema (dataSourceFormat.ts generates both from the contract).
 */
export function readDataSourceFile(path: string): DataSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DataSourceFileError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return DataSource.fromJSON(parseDataSourceText(text, path));
}

/** Parses a data source file's text (JSON when `path` ends in .json, YAML otherwise) into the contract's JSON. */
export function parseDataSourceText(text: string, path: string): Record<string, unknown> {
  let doc: unknown;
  if (/\.json$/i.test(path)) {
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new DataSourceFileError(`${path} is not valid JSON: ${(error as Error).message}`);
    }
  } else {
    const parsed = parseDocument(text, { uniqueKeys: true });
    if (parsed.errors.length) throw new DataSourceFileError(`${path} is not valid YAML: ${parsed.errors[0].message}`);
    doc = parsed.toJS();
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DataSourceFileError(`${path} must hold a data source object`);
  let body = doc as Record<string, unknown>;
  let at = '';
  const keys = Object.keys(body);
  if (keys.length === 1 && (keys[0] === 'data_source' || keys[0] === 'dataSource')) {
    at = keys[0];
    body = body[keys[0]] as Record<string, unknown>;
  }
  const { value, problems } = normalizeMessage(body, dataSourceDescriptor(), at);
  if (problems.length) throw new DataSourceFileError(fileProblems(path, problems));
  return value as Record<string, unknown>;
}

function fileProblems(path: string, problems: FormatProblem[]): string {
  const lines = problems.map((p) => `  ${p.path || '(the file)'}: ${p.message}`);
  return `${path} is not a valid data source (docs/data-source.schema.json):\n${lines.join('\n')}`;
}
