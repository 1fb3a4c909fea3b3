import { Logger } from '@nestjs/common';

// Code outside a running application (migrations, the embedded database) logs through
// Nest's default console logger; suites only want its warnings and errors.
Logger.overrideLogger(['warn', 'error']);
