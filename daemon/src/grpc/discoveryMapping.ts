/** Discovery events (core) as the contract's DiscoverDataSourceResponse events. */
import type { CatalogEntity, DiscoveryEvent, SourceIdentity } from '@sourced/core';
import type { Collection, DiscoverDataSourceResponse, Relation, SourceIdentity as SourceIdentityMessage } from '@sourced/api';
import { toCollection, toRelation, toSchema } from './catalogMapping';
import { fromStrategy, role, toDuration, toTimestamp } from './mappingCommon';

/**
 * Relations' columns, indexes, checks and triggers per message before a batch is split, keeping
 * each message far below the 4 MiB default limit of gRPC clients (~100 bytes each).
 */
export const MAX_ITEMS_PER_MESSAGE = 5000;

/** What a catalog entity weighs against {@link MAX_ITEMS_PER_MESSAGE}. */
function itemsOf(x: CatalogEntity): number {
  if (x.entity === 'collection') return (x.schemaInference?.fields.length ?? 0) + x.indexes.length + 1;
  return x.columns.length + x.indexes.length + (x.checkConstraints?.length ?? 0) + (x.triggers?.length ?? 0) + 1;
}

/**
 * Maps a discovery event to one or more responses (a very wide batch is split at relation
 * boundaries). Lazily: a piece of a batch becomes its messages only when the caller asks for
 * it, after the piece before was written, so one piece's contract objects are alive at a time
 * rather than the whole batch's (issue 18: less for the garbage collector to copy).
 */
export function* toDiscoveryResponses(
  e: DiscoveryEvent,
  encodeCursor: (key: CatalogEntity) => string,
  options: { entityColumns?: boolean } = {},
): Generator<Omit<DiscoverDataSourceResponse, 'sequence'>> {
  switch (e.kind) {
    case 'schemas':
      yield { event: { $case: 'schemas', value: { schemas: e.schemas.map(toSchema) } } };
      return;
    case 'batch': {
      const progress = { ...e.progress, elapsed: toDuration(e.progress.elapsedMs) };
      const piece = (from: number, to: number, cursor: string): Omit<DiscoverDataSourceResponse, 'sequence'> => {
        const relations: Relation[] = [];
        const collections: Collection[] = [];
        for (let i = from; i < to; i++) {
          const x = e.entities[i];
          if (x.entity === 'relation') relations.push(toRelation(x, options.entityColumns === true));
          else collections.push(toCollection(x));
        }
        return { event: { $case: 'batch', value: { index: e.index, relations, collections, cursor, progress } } };
      };
      let from = 0;
      let items = 0;
      for (let i = 0; i < e.entities.length; i++) {
        const size = itemsOf(e.entities[i]);
        if (i > from && items + size > MAX_ITEMS_PER_MESSAGE) {
          yield piece(from, i, encodeCursor(e.entities[i - 1]));
          from = i;
          items = 0;
        }
        items += size;
      }
      yield piece(from, e.entities.length, e.cursor);
      return;
    }
    case 'failover':
      yield { event: { $case: 'failover', value: { active: role(e.active), reason: e.reason, resumeAfter: e.resumeAfter } } };
      return;
    case 'warning':
      yield { event: { $case: 'warning', value: { code: e.code, message: e.message } } };
      return;
    case 'summary':
      yield {
        event: {
          $case: 'summary',
          value: {
            ...e,
            strategy: fromStrategy(e.strategy),
            endpoint: role(e.endpoint),
            source: e.source && toSourceIdentity(e.source),
            duration: toDuration(e.durationMs),
          },
        },
      };
  }
}

/** A session's identity as the contract carries it (unknown facts as the proto's empty values). */
function toSourceIdentity(i: SourceIdentity): SourceIdentityMessage {
  return {
    database: i.database,
    user: i.user,
    serverPort: i.serverPort ?? 0,
    serverId: i.serverId ?? '',
    serverVersion: i.serverVersion ?? '',
    startedAt: i.startedAt ?? '',
    startedTime: toTimestamp(i.startedAt),
  };
}
