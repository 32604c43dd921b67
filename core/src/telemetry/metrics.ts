import { createNoopMeter, ValueType, type Counter, type Meter, type UpDownCounter } from '@opentelemetry/api';

/**
 * The instruments the engines of core record to (README "Metrics"). Every attribute is
 * bounded: connector types, check ids of the loaded plugins, fixed enumerations, the hosts
 * of configured sources; never a secret, a data source, a query or a relation name.
 */
export interface SourcedInstruments {
  /** `sourced.discovery.entities` ({entity}): catalog entities sent, by `sourced.entity.kind` and `db.system`. */
  discoveryEntities: Counter;
  /** `sourced.discovery.batches` ({batch}): discovery batches sent, by `db.system`. */
  discoveryBatches: Counter;
  /** `sourced.validation.checks` ({check}): checks finished, by `sourced.check.id`, `sourced.check.status` and `db.system`. */
  validationChecks: Counter;
  /** `sourced.secret.cache` ({lookup}): secret reference look-ups, by `sourced.cache.result` (hit, miss, stale) and `sourced.secret.scheme`. */
  secretCache: Counter;
  /** `sourced.failovers` ({failover}): HYBRID failovers, by `db.system` and `sourced.failover.trigger` (start, connection_lost). */
  failovers: Counter;
  /** `sourced.source.connections` ({connection}): connections open to data sources now, by `db.system` and `server.address`. */
  sourceConnections: UpDownCounter;
}

/** The name of the meter core's instruments are created on. */
export const SOURCED_METER_NAME = 'sourced';

const made = new WeakMap<Meter, SourcedInstruments>();
let noop: SourcedInstruments | undefined;

/**
 * The instruments on a meter, made once per meter. Without a meter (a plugin host or a test
 * without a MeterProvider) they are no-ops, which cost nothing.
 */
export function sourcedInstruments(meter?: Meter): SourcedInstruments {
  if (!meter) return (noop ??= create(createNoopMeter()));
  let instruments = made.get(meter);
  if (!instruments) {
    instruments = create(meter);
    made.set(meter, instruments);
  }
  return instruments;
}

function create(meter: Meter): SourcedInstruments {
  return {
    discoveryEntities: meter.createCounter('sourced.discovery.entities', {
      description: 'Catalog entities (relations and collections) sent by discovery',
      unit: '{entity}',
      valueType: ValueType.INT,
    }),
    discoveryBatches: meter.createCounter('sourced.discovery.batches', { description: 'Discovery batches sent', unit: '{batch}', valueType: ValueType.INT }),
    validationChecks: meter.createCounter('sourced.validation.checks', {
      description: 'Validation checks finished, by check and status',
      unit: '{check}',
      valueType: ValueType.INT,
    }),
    secretCache: meter.createCounter('sourced.secret.cache', {
      description: 'Secret reference look-ups by cache result (hit, miss, stale)',
      unit: '{lookup}',
      valueType: ValueType.INT,
    }),
    failovers: meter.createCounter('sourced.failovers', {
      description: 'HYBRID failovers from one endpoint to the other',
      unit: '{failover}',
      valueType: ValueType.INT,
    }),
    sourceConnections: meter.createUpDownCounter('sourced.source.connections', {
      description: 'Connections open to data sources (discovery connections, opened through the connection budget)',
      unit: '{connection}',
      valueType: ValueType.INT,
    }),
  };
}

/** A connector's canonical type (what an alias the caller used stands for), for `db.system`. */
export function dbSystemOf(connector: { readonly source: { readonly type: string } }): string {
  return (connector as { definition?: { type?: string } }).definition?.type ?? connector.source.type;
}
