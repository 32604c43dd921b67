import type { SourceIdentity } from '../connector/SourceIdentity';
import type { EndpointRole } from '../datasource/DataSource';
import type { CatalogEntity, SchemaEntity } from './entities';
import type { DiscoveryStrategy, StrategyState } from './strategies';

/** How a run stands after a batch. */
export interface DiscoveryProgress extends StrategyState {
  relations: number;
  tables: number;
  views: number;
  collections: number;
  columns: number;
  batches: number;
  ratePerSecond: number;
  elapsedMs: number;
  /**
   * Relations and collections this run sends when it completes (those after the cursor that
   * pass the filter, at most max_entities), when the source could count them.
   */
  total?: number;
}

/** Events of a discovery run, in order. */
export type DiscoveryEvent =
  | { kind: 'schemas'; schemas: SchemaEntity[] }
  | { kind: 'batch'; index: number; entities: CatalogEntity[]; cursor: string; progress: DiscoveryProgress }
  | { kind: 'failover'; active: EndpointRole; reason: string; resumeAfter: string }
  | { kind: 'warning'; code: string; message: string }
  | {
      kind: 'summary';
      schemas: number;
      relations: number;
      tables: number;
      views: number;
      columns: number;
      collections: number;
      batches: number;
      durationMs: number;
      strategy: DiscoveryStrategy;
      failovers: number;
      warnings: number;
      endpoint: EndpointRole;
      stoppedEarly: boolean;
      /** `MAX_ENTITIES` or `MAX_DURATION`; empty when the run completed. */
      stopReason: string;
      /** The database and server the run ended on, as its session reported them (when the connector can tell). */
      source?: SourceIdentity;
    };
