// Prints why BPF sampling cannot run on this host and exits 1, or prints "ok" and exits 0.
// Used by tests that must not import the agent (e2e is scope:server).
import { bpfUnavailableReason } from '../src/bpf/availability';

bpfUnavailableReason().then(
  (reason) => {
    console.log(reason ?? 'ok');
    process.exit(reason ? 1 : 0);
  },
  (err: unknown) => {
    console.log(`check failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
