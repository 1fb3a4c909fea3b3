import * as common from '@nestjs/common';
import * as core from '@nestjs/core';

// @nestjs/throttler 6 is CommonJS and require()s the ES-module-only NestJS 12. Node (20.19 and
// later) loads that natively; Jest's CommonJS loader cannot before Node 24.9. Its files are
// transformed to read these namespaces (see nest-esm-bridge.transform.cjs): the very module
// instances the suite imports, so that DI tokens such as Reflector stay one class.
(globalThis as { __nestEsm?: unknown }).__nestEsm = { common, core };
