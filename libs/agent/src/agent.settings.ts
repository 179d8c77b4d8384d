import { z } from 'zod';
import { bool, defineConfig, type ConfigOf, durationMs, logLevel, nonEmpty, port, positiveInt, setting, url } from '@firn/config';

/** Settings of the agent (apps/agent): env vars and flags, documented in apps/agent/README.md. */
export const agentConfig = defineConfig('agent', {
  gatewayUrl: setting({
    env: 'FIRN_AGENT_GATEWAY_URL',
    flag: 'gateway-url',
    schema: url,
    default: 'http://127.0.0.1:4100',
    description: 'Gateway base URL (gRPC WriteArrow; https:// for TLS).',
  }),
  token: setting({
    env: 'FIRN_AGENT_TOKEN',
    flag: 'token',
    schema: z.string(),
    default: '',
    description: 'Bearer token with the write scope (or use the token file).',
    secret: true,
  }),
  tokenFile: setting({
    env: 'FIRN_AGENT_TOKEN_FILE',
    flag: 'token-file',
    schema: z.string(),
    default: '',
    description: 'File holding the bearer token; re-read when it changes (Kubernetes secrets).',
  }),
  intervalMs: setting({
    env: 'FIRN_AGENT_INTERVAL_MS',
    flag: 'interval-ms',
    schema: durationMs,
    default: '10000',
    description: 'How often the BPF maps are drained and a batch is sent.',
  }),
  frequencyHz: setting({
    env: 'FIRN_AGENT_FREQUENCY_HZ',
    flag: 'frequency-hz',
    schema: z.coerce.number().int().min(1).max(1000),
    default: '19',
    description: 'Samples per second per CPU (a prime avoids lockstep with periodic work).',
  }),
  nodeName: setting({
    env: 'FIRN_AGENT_NODE_NAME',
    flag: 'node-name',
    schema: z.string(),
    default: '',
    description: 'Value of the node label (empty = the hostname; in Kubernetes pass spec.nodeName).',
  }),
  relabelConfigFile: setting({
    env: 'FIRN_AGENT_RELABEL_CONFIG_FILE',
    flag: 'relabel-config-file',
    schema: z.string(),
    default: '',
    description: "YAML file of Prometheus-style relabel_configs applied to every process's labels.",
  }),
  bufferBytes: setting({
    env: 'FIRN_AGENT_BUFFER_BYTES',
    flag: 'buffer-bytes',
    schema: positiveInt,
    default: String(64 * 1024 * 1024),
    description: 'Bound of encoded batches kept while the gateway is unreachable (oldest dropped first).',
  }),
  sendTimeoutMs: setting({
    env: 'FIRN_AGENT_SEND_TIMEOUT_MS',
    flag: 'send-timeout-ms',
    schema: durationMs,
    default: '15000',
    description: 'Deadline of one WriteArrow call.',
  }),
  metricsHost: setting({
    env: 'FIRN_AGENT_METRICS_HOST',
    flag: 'metrics-host',
    schema: nonEmpty,
    default: '127.0.0.1',
    description: 'Address of the /metrics and /healthz server (0.0.0.0 in a DaemonSet).',
  }),
  metricsPort: setting({
    env: 'FIRN_AGENT_METRICS_PORT',
    flag: 'metrics-port',
    schema: port,
    default: '4110',
    description: 'Port of the /metrics and /healthz server (0 = pick a free one).',
  }),
  localSymbols: setting({
    env: 'FIRN_AGENT_LOCAL_SYMBOLS',
    flag: 'local-symbols',
    schema: bool,
    default: 'false',
    description: 'Name functions of unstripped binaries on the node from .symtab/.dynsym (the server symbolizes otherwise).',
  }),
  debugDirs: setting({
    env: 'FIRN_AGENT_DEBUG_DIRS',
    flag: 'debug-dirs',
    // An empty env value means "unset" (the default applies), so turning it off takes a word.
    schema: z.string().transform((v) =>
      v.trim() === 'none'
        ? []
        : v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
    ),
    default: '/usr/lib/debug',
    description:
      "Comma-separated directories with a .build-id/<xx>/<rest>.debug tree (installed *-dbgsym packages): stripped files are named from their debug file with --local-symbols, and uploaded as that file (none = off). In a DaemonSet, mount the host's /usr/lib/debug.",
  }),
  debuginfoUpload: setting({
    env: 'FIRN_AGENT_DEBUGINFO_UPLOAD',
    flag: 'debuginfo-upload',
    schema: bool,
    default: 'false',
    description: 'Upload debug info of binaries the server asks for (DebuginfoService).',
  }),
  kubeletUrl: setting({
    env: 'FIRN_AGENT_KUBELET_URL',
    flag: 'kubelet-url',
    schema: z.string(),
    default: '',
    description: 'Kubelet pod list for namespace/pod/container labels, e.g. https://$NODE_IP:10250/pods (empty = off: pod_uid and container_id only).',
  }),
  kubeletTokenFile: setting({
    env: 'FIRN_AGENT_KUBELET_TOKEN_FILE',
    flag: 'kubelet-token-file',
    schema: z.string(),
    default: '/var/run/secrets/kubernetes.io/serviceaccount/token',
    description: 'Bearer token for the kubelet (needs nodes/proxy get); re-read on each refresh; skipped when missing.',
  }),
  kubeletCaFile: setting({
    env: 'FIRN_AGENT_KUBELET_CA_FILE',
    flag: 'kubelet-ca-file',
    schema: z.string(),
    default: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    description: 'CA that signed the kubelet serving certificate (https only; skipped when missing).',
  }),
  kubeletInsecureSkipVerify: setting({
    env: 'FIRN_AGENT_KUBELET_INSECURE_SKIP_VERIFY',
    flag: 'kubelet-insecure-skip-verify',
    schema: bool,
    default: 'false',
    description: 'Do not verify the kubelet certificate (self-signed kubelet certs).',
  }),
  kubeletRefreshMs: setting({
    env: 'FIRN_AGENT_KUBELET_REFRESH_MS',
    flag: 'kubelet-refresh-ms',
    schema: durationMs,
    default: '30000',
    description: 'How often the pod list is re-read (also early, at most every 5 s, when an unknown pod shows up).',
  }),
  unwind: setting({
    env: 'FIRN_AGENT_UNWIND',
    flag: 'unwind',
    schema: z.enum(['tables', 'frame-pointers']),
    default: 'tables',
    description:
      'User stacks: `tables` unwinds with .eh_frame tables built per executable (frame pointers where there is none: JIT code, files without tables); `frame-pointers` uses frame pointers only.',
  }),
  unwindTableBudgetBytes: setting({
    env: 'FIRN_AGENT_UNWIND_TABLE_BUDGET_BYTES',
    flag: 'unwind-table-budget-bytes',
    schema: positiveInt,
    default: String(128 * 1024 * 1024),
    description: 'Kernel memory all unwind tables together may use (unused tables are evicted first; a table that does not fit unwinds by frame pointers).',
  }),
  bpfCacheDir: setting({
    env: 'FIRN_AGENT_BPF_CACHE_DIR',
    flag: 'bpf-cache-dir',
    schema: z.string(),
    default: '',
    description: 'Where the compiled BPF object is cached (empty = node_modules/.cache/firn-agent).',
  }),
  logLevel: setting({ env: 'FIRN_LOG_LEVEL', flag: 'log-level', schema: logLevel, default: 'info', description: 'Minimum log level (JSON logs on stdout).' }),
  shutdownTimeoutMs: setting({
    env: 'FIRN_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    schema: durationMs,
    default: '10000',
    description: 'How long SIGTERM may spend on the final drain and send.',
  }),
});

export type AgentConfig = ConfigOf<typeof agentConfig.settings>;
