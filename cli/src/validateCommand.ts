/** `sourced validate FILE`: the connector's checks, each shown as it runs, then a report per endpoint and the verdict. */
import { Metadata } from '@grpc/grpc-js';
import { checkStatusToJSON, DataSourceServiceClient, EndpointRole, endpointRoleToJSON, ValidateDataSourceResponse } from '@sourced/api';
import { clientContext, interruptedExit, interruptible } from './client';
import { readDataSourceFile } from './dataSourceFile';
import { EXIT } from './errors';
import type { ClientOptions } from './options';
import { plural } from './discoveryView';
import { formatCheck, formatRunning } from './output';

export async function runValidate(file: string, options: ClientOptions): Promise<number> {
  const dataSource = readDataSourceFile(file);
  const { address, channel, deadline, json, out } = clientContext(options);
  const p = out.paint;
  const client = new DataSourceServiceClient(address, channel);
  const call = client.validateDataSource({ dataSource, checkTimeoutMs: 0 }, new Metadata(), { deadline });
  const signal = interruptible(out, call);
  let ok = false;
  try {
    for await (const message of call as AsyncIterable<ValidateDataSourceResponse>) {
      const e = message.event;
      if (e?.$case === 'summary') ok = e.value.ok;
      if (json) {
        out.line(JSON.stringify(ValidateDataSourceResponse.toJSON(message)));
        continue;
      }
      if (!e) continue;
      if (e.$case === 'checkStarted') {
        out.live.set(formatRunning(e.value.title, e.value.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY, out));
      } else if (e.$case === 'checkFinished') {
        const c = e.value;
        const lines = formatCheck(
          {
            status: checkStatusToJSON(c.status).replace('CHECK_STATUS_', ''),
            title: c.title,
            secondary: c.endpoint === EndpointRole.ENDPOINT_ROLE_SECONDARY,
            durationMs: c.durationMs,
            message: c.message,
            hint: c.hint,
          },
          out,
        );
        for (const line of lines) out.line(line);
      } else if (e.$case === 'report') {
        const r = e.value;
        const role = endpointRoleToJSON(r.endpoint).replace('ENDPOINT_ROLE_', '').toLowerCase();
        out.line(
          `${role} ${r.address}: ${r.ok ? p.green('OK') : p.red('FAILED')} (${r.passed} passed, ${r.failed} failed, ${plural(r.warnings, 'warning')}, ${r.skipped} skipped)`,
        );
      } else {
        // e.$case === 'summary': the last kind of event
        out.line(`${ok ? p.bold(p.green('valid')) : p.bold(p.red('NOT valid'))} in ${e.value.durationMs.toFixed(0)} ms`);
      }
    }
  } catch (error) {
    if (signal.interrupted) return interruptedExit();
    throw error;
  } finally {
    signal.dispose();
    out.close();
    client.close();
  }
  return ok ? EXIT.OK : EXIT.VALIDATION_FAILED;
}
