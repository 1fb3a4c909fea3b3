import { cliDataSource } from './cli-data-source.js';

/** For `typeorm migration:generate -d dist/common/database/data-source.js`. */
export const dataSource = cliDataSource();
