#!/usr/bin/env node
// `npm start`: the all-in-one server plus a local eBPF agent profiling this machine.
//   node scripts/start.cjs [all-in-one flags...]       e.g. --port 8080 --data-dir /var/lib/firn
//   FIRN_START_AGENT=0 npm start                        the server alone
// The agent needs root (or CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE) and kernel BTF; where it cannot
// run, the server still starts and the reason is printed. The agent is a separate process (as on
// a real node), compiled to plain JS first (scripts/build-agent.cjs), sending to this server with
// the default tenant's token from <data-dir>/default-token.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { resolve, join } = require('node:path');

const ROOT = resolve(__dirname, '..');
const args = process.argv.slice(2);

function flag(name, env, fallback) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return process.env[env] || fallback;
}

const port = Number(flag('port', 'FIRN_PORT', '7070'));
const host = flag('host', 'FIRN_HOST', '127.0.0.1');
const dataDir = resolve(flag('data-dir', 'FIRN_DATA_DIR', './.firn/data'));
const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
const say = (msg) => console.log(`firn start: ${msg}`);

const server = spawn(process.execPath, [join(ROOT, 'scripts/run-ts.cjs'), join(ROOT, 'apps/all-in-one/src/main.ts'), ...args], { stdio: 'inherit' });
let agent;
let stopping = false;

function stop(signal) {
  if (stopping) return;
  stopping = true;
  agent?.kill(signal);
  server.kill(signal);
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
server.on('exit', (code, signal) => {
  agent?.kill('SIGTERM');
  process.exitCode = code ?? (signal ? 1 : 0);
});

async function ready(timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && server.exitCode === null && !stopping) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** Why the local agent cannot run here, or undefined. */
function agentBlocker() {
  if (process.env.FIRN_START_AGENT === '0') return 'FIRN_START_AGENT=0';
  if (process.getuid && process.getuid() !== 0) return 'not root (run as root, or give node CAP_BPF + CAP_PERFMON + CAP_SYS_PTRACE)';
  const check = spawnSync(process.execPath, [join(ROOT, 'scripts/run-ts.cjs'), join(ROOT, 'libs/agent/bpf/check.ts')], { encoding: 'utf8' });
  if (check.status !== 0) return (check.stdout || check.stderr || 'BPF check failed').trim();
  return undefined;
}

async function startAgent() {
  if (!(await ready(180_000))) return;
  const blocker = agentBlocker();
  if (blocker) {
    say(`local agent not started: ${blocker}. The server runs on ${base} without it; web UI: ${base}/`);
    return;
  }
  const tokenFile = join(dataDir, 'default-token');
  if (!existsSync(tokenFile)) {
    say(`local agent not started: ${tokenFile} is missing (the server created no default token; pass one with FIRN_AGENT_TOKEN)`);
    return;
  }
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-agent.cjs')], { encoding: 'utf8' });
  if (build.status !== 0) {
    say(`local agent not started: build failed\n${build.stderr || build.stdout}`);
    return;
  }
  const metricsPort = process.env.FIRN_AGENT_METRICS_PORT || '4110';
  agent = spawn(
    join(ROOT, 'dist/agent/firn-agent'),
    ['--gateway-url', base, '--token-file', tokenFile, '--local-symbols', 'true', '--metrics-port', metricsPort],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env },
    },
  );
  agent.on('exit', (code, signal) => {
    if (!stopping) say(`local agent exited (${signal ?? `code ${code}`}); the server keeps running`);
  });
  say(`local agent profiling this machine at 19 Hz per CPU, sending to ${base} every 10 s (metrics: http://127.0.0.1:${metricsPort}/metrics)`);
  say(`in ~20 s this machine's CPU profile is in the web UI: ${base}/ (sign in with the token in ${tokenFile})`);
  say(`  or: curl -s -H "Authorization: Bearer $(cat ${tokenFile})" ${base}/api/v1/whoami ; Grafana Parca or Pyroscope data source at ${base}`);
}

startAgent().catch((err) => say(`local agent not started: ${err.message}`));
