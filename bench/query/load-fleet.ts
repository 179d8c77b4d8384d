// Pushes a fleet-1h slice through the gateway's WriteArrow, generating and encoding each window
// just before it is sent (a full hour is ~3.8 GB of Arrow: too much to hold in memory).
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { samplesToArrow } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { fleetWindows, resolveFleetOptions, type FleetOptions } from '../fleet/fleet-1h';
import { runClosedLoop } from '../ingest/load';
import { bearer } from '../cli';

export interface LoadedFleet {
  requests: number;
  rows: number;
  samples: number;
  /** Samples per namespace label value, to check filtered queries. */
  samplesByNamespace: Record<string, number>;
  arrowBytes: number;
  pushWallSec: number;
}

export async function loadFleet(opts: {
  gatewayBase: string;
  token: string;
  fleet: FleetOptions;
  concurrency: number;
  deadlineMs: number;
  onProgress?: (sent: number, total: number) => void;
}): Promise<LoadedFleet> {
  const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: opts.gatewayBase, interceptors: [bearer(opts.token)] }));
  const windows = fleetWindows(opts.fleet);
  const resolved = resolveFleetOptions(opts.fleet);
  const total = resolved.agents * resolved.windows;
  const out: LoadedFleet = { requests: 0, rows: 0, samples: 0, samplesByNamespace: {}, arrowBytes: 0, pushWallSec: 0 };
  const t0 = performance.now();
  const res = await runClosedLoop(
    total,
    opts.concurrency,
    async () => {
      const next = windows.next();
      if (next.done) throw new Error(`fleet generator ended after ${out.requests} windows, expected ${total}`);
      const batch = next.value.batch;
      const nsOfSeries = batch.series.map((labels) => labels.find(([n]) => n === 'namespace')?.[1] ?? '');
      for (let i = 0; i < batch.length; i++) {
        const ns = nsOfSeries[batch.seriesIdx[i]];
        out.samples += batch.value[i];
        out.samplesByNamespace[ns] = (out.samplesByNamespace[ns] ?? 0) + batch.value[i];
      }
      out.rows += batch.length;
      out.requests++;
      const ipcBuffer = samplesToArrow(batch);
      out.arrowBytes += ipcBuffer.length;
      if (out.requests % 500 === 0) opts.onProgress?.(out.requests, total);
      await client.writeArrow({ ipcBuffer });
    },
    opts.deadlineMs,
  );
  if (res.errors > 0) throw new Error(`loading fleet-1h: ${res.errors} request(s) failed; first: ${String(res.firstError)}`);
  out.pushWallSec = (performance.now() - t0) / 1000;
  return out;
}
