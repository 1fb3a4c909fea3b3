import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { lstat, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import type { AppConfig } from '../config/app-config.js';

/** systemd passes its first listening socket as file descriptor 3. */
const SD_LISTEN_FDS_START = 3;

/** The socket a supervisor handed over (systemd socket activation), if it is meant for us. */
export function inheritedSocket(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const count = Number(env.LISTEN_FDS ?? 0);
  const pid = Number(env.LISTEN_PID ?? process.pid);
  return count >= 1 && pid === process.pid ? SD_LISTEN_FDS_START : undefined;
}

/**
 * A socket file left by a process that is gone is removed; one that still answers belongs
 * to a running server, and starting is refused.
 */
async function replaceStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) throw new Error(`LISTEN_PATH ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`LISTEN_PATH ${path} is in use by a running server`);
  await unlink(path);
}

/**
 * Starts accepting connections: on a socket inherited from a supervisor (LISTEN_FDS), on a
 * Unix socket (LISTEN_PATH), or on HOST:PORT; with the listen backlog and connection cap of
 * the configuration. Returns where it listens.
 */
export async function listen(
  app: NestFastifyApplication,
  config: AppConfig['http'],
): Promise<string> {
  const server = app.getHttpServer() as Server;
  if (config.maxConnections > 0) server.maxConnections = config.maxConnections;
  const fd = inheritedSocket();
  let where: string;
  if (fd !== undefined) {
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd, backlog: config.backlog }, () => resolve());
    });
    where = `the inherited socket (fd ${fd})`;
  } else if (config.listenPath) {
    await replaceStaleSocket(config.listenPath);
    await app.listen({ path: config.listenPath, backlog: config.backlog });
    where = config.listenPath;
  } else {
    await app.listen({ port: config.port, host: config.host, backlog: config.backlog });
    where = `${config.host}:${config.port}`;
  }
  new Logger('Server').log(`Listening on ${where}`);
  return where;
}
