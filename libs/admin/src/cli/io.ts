/**
 * Everything the CLI touches outside itself. `runCli` is a pure function of argv, env and this,
 * so tests drive it with a fake fetch and an in-memory file system.
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  fetch: typeof fetch;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  /** Wall clock in unix ms (relative times such as `now-1h`). */
  now(): number;
}
