/** `sourced discover FILE`: the catalog as a tree, text lines, NDJSON entities or the raw events. */
import { Metadata } from '@grpc/grpc-js';
import {
  Collection,
  DataSourceServiceClient,
  DiscoverDataSourceResponse,
  DiscoveryStrategy,
  discoveryStrategyFromJSON,
  endpointRoleToJSON,
  Relation,
  Schema,
} from '@sourced/api';
import type { DiscoverySummary } from '@sourced/api';
import { clientContext, interruptedExit, interruptible } from './client';
import { readDataSourceFile } from './dataSourceFile';
import { EXIT } from './errors';
import type { DiscoverOptions, Strategy } from './options';
import { DiscoveryTree, plural, ProgressLine, relationKind } from './discoveryView';

/** The contract's strategy of a `--strategy` name (unspecified: the daemon's default). */
export function strategyOf(name: Strategy | undefined): DiscoveryStrategy {
  return name ? discoveryStrategyFromJSON(`DISCOVERY_STRATEGY_${name.toUpperCase()}`) : DiscoveryStrategy.DISCOVERY_STRATEGY_UNSPECIFIED;
}

export async function runDiscover(file: string, options: DiscoverOptions): Promise<number> {
  const dataSource = readDataSourceFile(file);
  const { address, channel, deadline, json, out } = clientContext(options);
  const format = json ? 'json' : (options.format ?? (out.tty ? 'tree' : 'text'));
  const p = out.paint;
  const client = new DataSourceServiceClient(address, channel);
  const call = client.discoverDataSource(
    {
      dataSource,
      filter: {
        includeSchemas: options.includeSchema,
        excludeSchemas: options.excludeSchema,
        includeTables: options.includeTable,
        excludeTables: options.excludeTable,
        includeSystemSchemas: false,
      },
      strategy: strategyOf(options.strategy),
      batchSize: options.batchSize,
      resumeAfter: options.resumeAfter,
      maxEntities: options.maxEntities,
      includeRoutineBodies: options.routineBodies === true,
      maxDurationMs: 0,
    },
    new Metadata(),
    { deadline },
  );
  const signal = interruptible(out, call);
  const progress = new ProgressLine(out.progress, p);
  try {
    const tree = format === 'tree' ? new DiscoveryTree() : undefined;
    /** Lines for a person beside the entities: on the output, or on stderr when the output is NDJSON. */
    const say = (text: string) => (format === 'ndjson' ? out.note(text) : out.line(text));
    let entities = 0;
    let cursor = '';
    let summary: DiscoverySummary | undefined;
    try {
      for await (const message of call as AsyncIterable<DiscoverDataSourceResponse>) {
        const e = message.event;
        if (e?.$case === 'batch') {
          const b = e.value;
          entities += b.relations.length + b.collections.length;
          if (b.cursor) cursor = b.cursor;
          const daemon = b.progress;
          progress.update(
            daemon ? { entities: daemon.relations + daemon.collections, total: daemon.total, ratePerSecond: daemon.ratePerSecond } : { entities },
          );
        }
        if (format === 'json') {
          out.line(JSON.stringify(DiscoverDataSourceResponse.toJSON(message)));
          continue;
        }
        if (!e) continue;
        switch (e.$case) {
          case 'schemas':
            for (const s of e.value.schemas) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'schema', schema: Schema.toJSON(s) }));
              else if (tree) tree.addSchema(s);
              else out.line(`schema ${s.name}${s.usable ? '' : ' (not usable)'}${s.comment ? ` -- ${s.comment}` : ''}`);
            }
            break;
          case 'batch':
            for (const r of e.value.relations) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'relation', relation: Relation.toJSON(r) }));
              else if (tree) tree.addRelation(r);
              else {
                const rows = r.estimatedRows >= 0 ? `, ~${plural(r.estimatedRows, 'row')}` : '';
                const pk = r.primaryKey ? `, pk (${r.primaryKey.columns.join(', ')})` : '';
                out.line(
                  `  ${r.schema}.${r.name}  ${relationKind(r)}: ${plural(r.columns.length, 'column')}${pk}, ${plural(r.foreignKeys.length, 'foreign key')}, ${plural(r.indexes.length, 'index', 'indexes')}${rows}`,
                );
              }
            }
            for (const c of e.value.collections) {
              if (format === 'ndjson') out.line(JSON.stringify({ kind: 'collection', collection: Collection.toJSON(c) }));
              else if (tree) tree.addCollection(c);
              else
                out.line(
                  `  ${c.database}.${c.name}  collection: ${plural(c.indexes.length, 'index', 'indexes')}${c.estimatedDocuments >= 0 ? `, ~${plural(c.estimatedDocuments, 'document')}` : ''}`,
                );
            }
            break;
          case 'warning':
            say(`${p.yellow('warning')} ${e.value.code}: ${e.value.message}`);
            break;
          case 'failover':
            say(`${p.yellow('failover')} to ${endpointRoleToJSON(e.value.active)}: ${e.value.reason}`);
            break;
          case 'summary':
            summary = e.value;
            break;
        }
      }
    } catch (error) {
      if (signal.interrupted) return interruptedExit();
      throw error;
    } finally {
      progress.stop();
      signal.dispose();
      client.close();
    }
    if (tree) for (const line of tree.render(p, out.unicode)) out.line(line);
    if (summary && format !== 'json') {
      const s = summary;
      say(
        `${plural(s.schemas, 'schema')}, ${plural(s.tables, 'table')}, ${plural(s.views, 'view')}, ${s.collections ? `${plural(s.collections, 'collection')}, ` : ''}${plural(s.columns, 'column')} in ${plural(s.batches, 'batch', 'batches')}, ${s.durationMs.toFixed(0)} ms`,
      );
      if (s.stoppedEarly) {
        say(
          `stopped early (${s.stopReason}); continue with ${cursor ? `--resume-after ${cursor}` : "--resume-after and the last batch's cursor (--json shows it)"}`,
        );
      }
    }
    return EXIT.OK;
  } finally {
    out.close();
  }
}
