import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The server built as `npm run build` builds it (Nest CLI with the Swagger plugin, then the
 * migrations), but into a directory of the suite's own: `npm run build` empties `dist/` first,
 * and another build in this checkout during the run must not take the server away from under
 * a restart. Beside the build: `package.json` (it is ES modules) and a link to `node_modules`.
 */
export class PrivateBuild {
  private constructor(readonly dir: string) {}

  /** What `node dist/main.js` runs. */
  get script(): string {
    return join(this.dir, 'dist', 'main.js');
  }

  static async make(): Promise<PrivateBuild> {
    const build = new PrivateBuild(await mkdtemp(join(tmpdir(), 'docs-api-cluster-')));
    try {
      await build.compile();
    } catch (error) {
      await build.remove();
      throw error;
    }
    return build;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async compile(): Promise<void> {
    const outDir = join(this.dir, 'dist');
    // The project's build configuration with only the output moved (and type packages still
    // found from here).
    const tsconfig = join(this.dir, 'tsconfig.build.json');
    await writeFile(
      tsconfig,
      JSON.stringify({
        extends: resolve('tsconfig.build.json'),
        compilerOptions: { outDir, typeRoots: [resolve('node_modules/@types')] },
      }),
    );
    const nestCli = JSON.parse(await readFile('nest-cli.json', 'utf8')) as {
      compilerOptions: Record<string, unknown>;
    };
    Object.assign(nestCli.compilerOptions, {
      tsConfigPath: relative('.', tsconfig),
      allowOutsidePaths: true,
    });
    const nestConfig = join(this.dir, 'nest-cli.json');
    await writeFile(nestConfig, JSON.stringify(nestCli));
    // The Nest CLI takes these paths relative to the project.
    await run('node_modules/.bin/nest', ['build', '--config', relative('.', nestConfig)]);
    await run('node_modules/.bin/tsc', [
      '-p',
      'tsconfig.migrations.json',
      '--outDir',
      join(outDir, 'migrations'),
    ]);
    await cp('package.json', join(this.dir, 'package.json'));
    await symlink(resolve('node_modules'), join(this.dir, 'node_modules'), 'dir');
  }
}
