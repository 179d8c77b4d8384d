// A real 3-node JetStream cluster of nats-server processes on loopback, each with its own store.
import { join } from 'node:path';
import { freePort, requireBinary, spawnServer, type ServerProcess } from '@firn/testing';

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly proc: ServerProcess;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** Every client URL, comma-separated (FIRN_NATS_URL). */
  readonly urls: string;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const bin = requireBinary('nats-server');
  const ports = [];
  for (let i = 0; i < size; i++) ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
  const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
  const nodes = await Promise.all(
    ports.map(async (p, i): Promise<NatsNode> => {
      const name = `n${i}`;
      const proc = await spawnServer({
        name: `nats-${name}`,
        command: bin,
        args: (tmp) => [
          '-js',
          '-sd',
          join(tmp, 'js'),
          '-a',
          '127.0.0.1',
          '-p',
          String(p.client),
          '-m',
          String(p.monitor),
          '--server_name',
          name,
          '--cluster_name',
          'firn-e2e',
          '--cluster',
          `nats://127.0.0.1:${p.cluster}`,
          '--routes',
          routes,
        ],
        // JetStream is usable once the cluster has a meta leader, which /healthz?js-enabled-only reports.
        ready: async () => (await fetch(`http://127.0.0.1:${p.monitor}/healthz`)).status === 200,
        readyTimeoutMs: 60_000,
        stopTimeoutMs: 10_000,
      });
      return { name, url: `nats://127.0.0.1:${p.client}`, proc };
    }),
  );
  return {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    stop: async () => void (await Promise.all(nodes.map((n) => n.proc.stop()))),
  };
}
