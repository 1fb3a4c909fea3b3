/** The phase during which a signal leaves a migration's transaction for PostgreSQL to undo. */
export const APPLYING_MIGRATIONS = 'applying migrations';

let phase = 'starting';

/**
 * Records what the process is doing while it starts ("connecting to PostgreSQL"): the line
 * that a signal or a failed start writes names it (see `Startup`). Code that also runs
 * outside a start (tests, the command-line tools) may call it: it only sets a label.
 */
export function enterStartupPhase(name: string): void {
  phase = name;
}

/** What the process was doing when it last said. */
export function startupPhase(): string {
  return phase;
}
