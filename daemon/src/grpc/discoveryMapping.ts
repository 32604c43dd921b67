/** Discovery events (core) as the contract's DiscoverDataSourceResponse events. */
import type { CatalogEntity, DiscoveryEvent, SourceIdentity } from '@sourced/core';
import type { DiscoverDataSourceResponse, SourceIdentity as SourceIdentityMessage } from '@sourced/api';
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

/** Maps a discovery event to one or more responses (a very wide batch is split at relation boundaries). */
export function toDiscoveryResponses(e: DiscoveryEvent, encodeCursor: (key: CatalogEntity) => string): Omit<DiscoverDataSourceResponse, 'sequence'>[] {
  switch (e.kind) {
    case 'schemas':
      return [{ event: { $case: 'schemas', value: { schemas: e.schemas.map(toSchema) } } }];
    case 'batch': {
      const out: Omit<DiscoverDataSourceResponse, 'sequence'>[] = [];
      let piece: CatalogEntity[] = [];
      let items = 0;
      const flush = (cursor: string) => {
        const relations = piece.flatMap((x) => (x.entity === 'relation' ? [toRelation(x)] : []));
        const collections = piece.flatMap((x) => (x.entity === 'collection' ? [toCollection(x)] : []));
        const progress = { ...e.progress, elapsed: toDuration(e.progress.elapsedMs) };
        out.push({ event: { $case: 'batch', value: { index: e.index, relations, collections, cursor, progress } } });
        piece = [];
        items = 0;
      };
      e.entities.forEach((x, i) => {
        const size = itemsOf(x);
        if (piece.length > 0 && items + size > MAX_ITEMS_PER_MESSAGE) flush(encodeCursor(e.entities[i - 1]));
        piece.push(x);
        items += size;
      });
      flush(e.cursor);
      return out;
    }
    case 'failover':
      return [{ event: { $case: 'failover', value: { active: role(e.active), reason: e.reason, resumeAfter: e.resumeAfter } } }];
    case 'warning':
      return [{ event: { $case: 'warning', value: { code: e.code, message: e.message } } }];
    case 'summary':
      return [
        {
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
        },
      ];
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
