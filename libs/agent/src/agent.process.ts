import { access, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { ConfigError, configDocs, loadConfig, wantsHelp } from '@firn/config';
import { parseKallsyms } from '@firn/elf';
import { createLogger, createMetricsRegistry, type Logger, type Registry } from '@firn/observability';
import { Agent } from './agent';
import { AgentMetrics } from './agent.metrics';
import { agentConfig, type AgentConfig } from './agent.settings';
import { compileBpf } from './bpf/compile';
import { KubeletPodResolver } from './labels/kubelet-pods';
import { parseRelabelConfigs } from '@firn/profiles';
import { elfObjectReader } from './proc/object-reader';
import { gatewayTransport, writeArrowSender } from './ship/gateway-client';
import { DebuginfoUploader } from './ship/debuginfo-uploader';
import { KernelNames } from './symbols/kernel-names';

export interface RunningAgent {
  readonly agent: Agent;
  readonly metricsPort: number;
  shutdown(reason: string): Promise<void>;
}

/** Builds and starts the agent from a loaded config; used by the entry point and by tests. */
export async function startAgent(config: AgentConfig, log: Logger, registry: Registry): Promise<RunningAgent> {
  const relabelConfigs = config.relabelConfigFile ? parseRelabelConfigs(await readFile(config.relabelConfigFile, 'utf8')) : [];
  const objectPath = await compileBpf({ cacheDir: config.bpfCacheDir || undefined });
  const kallsyms = parseKallsyms(await readFile('/proc/kallsyms', 'utf8').catch(() => ''));
  if (kallsyms.restricted) log.warn('kernel addresses are hidden (kptr_restrict); kernel frames stay unnamed');
  const kernelSymbols = KernelNames.fromTable(kallsyms);
  const transport = gatewayTransport({ baseUrl: config.gatewayUrl, token: config.token, tokenFile: config.tokenFile, timeoutMs: config.sendTimeoutMs });
  const uploader = config.debuginfoUpload
    ? new DebuginfoUploader({ transport, logger: log, timeoutMs: config.sendTimeoutMs, debugDirs: config.debugDirs })
    : undefined;
  const metrics = new AgentMetrics(registry);
  const pods = config.kubeletUrl ? await kubeletPods(config, log) : undefined;
  const agent = new Agent({
    objectPath,
    intervalMs: config.intervalMs,
    frequencyHz: config.frequencyHz,
    unwind: { mode: config.unwind, tableBudgetBytes: config.unwindTableBudgetBytes },
    nodeName: config.nodeName || hostname(),
    relabelConfigs,
    bufferBytes: config.bufferBytes,
    send: writeArrowSender(transport, config.sendTimeoutMs),
    readObject: elfObjectReader({ localSymbols: config.localSymbols, debugDirs: config.debugDirs }),
    kernelSymbols,
    pods,
    logger: log,
    metrics,
    onMappings: uploader ? (files) => uploader.offer(files) : undefined,
  });
  agent.start();

  const healthy = () => agent.attached && Date.now() - agent.lastDrainMs < 3 * config.intervalMs + 5000;
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (req.url === '/healthz' || req.url === '/readyz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not sampling\n');
    } else res.writeHead(404).end();
  });
  const metricsPort = await listen(server, config.metricsHost, config.metricsPort);
  log.info({ metrics_port: metricsPort, gateway: config.gatewayUrl }, 'agent started');

  let stopping: Promise<void> | undefined;
  return {
    agent,
    metricsPort,
    shutdown(reason) {
      stopping ??= (async () => {
        log.info({ reason }, 'stopping: detaching, final drain and send');
        await agent.stop(Date.now() + config.shutdownTimeoutMs);
        await uploader?.stop();
        pods?.stop();
        await new Promise<void>((r) => server.close(() => r()));
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

async function kubeletPods(config: AgentConfig, log: Logger): Promise<KubeletPodResolver> {
  // The service-account defaults do not exist outside a pod: use them only when present.
  const present = async (file: string) =>
    file
      ? access(file).then(
          () => file,
          () => undefined,
        )
      : undefined;
  const pods = new KubeletPodResolver({
    url: config.kubeletUrl,
    tokenFile: await present(config.kubeletTokenFile),
    caFile: await present(config.kubeletCaFile),
    insecureSkipVerify: config.kubeletInsecureSkipVerify,
    refreshMs: config.kubeletRefreshMs,
    timeoutMs: config.sendTimeoutMs,
    logger: log,
  });
  await pods.start();
  return pods;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Entry point: config from argv/env, `--help`, exit 2 on config errors, SIGTERM/SIGINT stop. */
export function runAgentMain(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): void {
  if (wantsHelp(argv)) {
    process.stdout.write(`firn agent: settings (env or flag)\n\n${configDocs(agentConfig)}\n`);
    process.exit(0);
  }
  let config: AgentConfig;
  try {
    config = loadConfig(agentConfig, { argv, env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`firn-agent: config error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ component: 'agent', level: config.logLevel });
  startAgent(config, log, createMetricsRegistry('agent')).then(
    (running) => {
      for (const sig of ['SIGTERM', 'SIGINT'] as const) {
        process.once(sig, () => {
          running.shutdown(sig).then(
            () => process.exit(0),
            (err: unknown) => {
              log.error({ err: String(err) }, 'shutdown failed');
              process.exit(1);
            },
          );
        });
      }
    },
    (err: unknown) => {
      process.stderr.write(`firn-agent: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
