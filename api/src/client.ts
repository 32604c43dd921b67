import { credentials as grpcCredentials, type ChannelCredentials, type ClientOptions, type Metadata } from '@grpc/grpc-js';
import { DataSourceServiceClient } from './gen/sourced/v1/data_source_service';
import { PluginServiceClient } from './gen/sourced/v1/plugin_service';
import { SecretServiceClient } from './gen/sourced/v1/secret_service';
import { decodeRichStatus, type RichStatus } from './richStatus';

/** The header (trailer) in which a google.rpc.Status travels with a failed call. */
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** The clients of a sourced daemon's two services, sharing one channel. */
export interface SourcedClients {
  /** `sourced.v1.DataSourceService`: validate, discover, preview, profile. */
  dataSources: DataSourceServiceClient;
  /** `sourced.v1.PluginService`: the plugins the daemon loaded. */
  plugins: PluginServiceClient;
  /** `sourced.v1.SecretService`: envelopes for credentials encrypted at rest. */
  secrets: SecretServiceClient;
  /** Closes the channel (both clients). */
  close(): void;
}

/**
 * Connects to a sourced daemon at `address` (`host:port`), with TLS or mTLS credentials
 * (`credentials.createSsl(...)`) or, by default, plaintext (`credentials.createInsecure()`).
 * The channel connects lazily, at the first call.
 */
export function createClients(
  address: string,
  credentials: ChannelCredentials = grpcCredentials.createInsecure(),
  options: ClientOptions = {},
): SourcedClients {
  const dataSources = new DataSourceServiceClient(address, credentials, options);
  const plugins = new PluginServiceClient(address, credentials, { ...options, channelOverride: dataSources.getChannel() });
  const secrets = new SecretServiceClient(address, credentials, { ...options, channelOverride: dataSources.getChannel() });
  return {
    dataSources,
    plugins,
    secrets,
    close: () => dataSources.close(),
  };
}

/**
 * The google.rpc.Status details of a failed call (its `BadRequest` field violations, its
 * `ErrorInfo` reason and metadata, its `RetryInfo` delay), read from the error's
 * `grpc-status-details-bin` trailer; undefined when the error carries none (or is not a
 * grpc-js `ServiceError`).
 */
export function decodeStatusDetails(error: unknown): RichStatus | undefined {
  // Duck-typed, not `instanceof`: the error may come from another copy of grpc-js.
  const metadata = (error as { metadata?: Partial<Metadata> } | null | undefined)?.metadata;
  if (typeof metadata?.get !== 'function') return undefined;
  // `at`: the trailer may be absent (an empty list), which an index access would not type as undefined.
  const bin = metadata.get(STATUS_DETAILS_KEY).at(0);
  if (bin === undefined || typeof bin === 'string') return undefined;
  return decodeRichStatus(bin);
}
