import net from 'node:net';

/** A TCP port nobody listens on at the moment (the OS picks it); another process may still take it first. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('No port assigned')) : resolve(port)));
    });
  });
}

/** Whether `port` can be bound on `host` right now. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `preferred` when it is free, else a free port; 0 means "any free port". */
export async function pickPort(preferred: number, host = '127.0.0.1'): Promise<number> {
  if (preferred !== 0 && (await isPortFree(preferred, host))) return preferred;
  return findFreePort(host);
}

/** Whether something accepts TCP connections on host:port. */
export async function isListening(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
