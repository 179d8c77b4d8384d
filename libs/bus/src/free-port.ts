import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port. The port is released before the caller binds it, so a
 * race is possible; callers retry when the server reports the address in use.
 */
export async function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`could not allocate a port on ${host}`));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}
