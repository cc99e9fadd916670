import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder whose target can be switched: the shards keep one upstream
 * address while each scenario brings its own stand-ins. Switching cuts the
 * open connections, so no keep-alive socket reaches the previous scenario.
 */
export interface Switchboard {
  port: number;
  point(target: string): void;
  close(): Promise<void>;
}

export async function startSwitchboard(): Promise<Switchboard> {
  let target = { host: '127.0.0.1', port: 9 };
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    point(address) {
      const u = new URL(address.includes('://') ? address : `tcp://${address}`);
      target = { host: u.hostname, port: Number(u.port) };
      for (const s of open) s.destroy();
    },
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
