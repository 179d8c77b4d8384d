// Entry point of build.sh: compiles profiler.bpf.c into the cache and prints the object's path.
import { compileBpf } from '../src/bpf/compile';

compileBpf().then(
  (path) => console.log(path),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
