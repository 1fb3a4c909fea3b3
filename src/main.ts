import { installStartupSignals } from './common/startup/startup-signals.js';

// `node dist/main.js [port]` serves; `node dist/main.js migrate` applies pending migrations
// and exits. Signals are handled from this first line: loading the rest takes a moment.
installStartupSignals();
const { bootstrap } = await import('./app.setup.js');
await bootstrap(process.argv.slice(2));
