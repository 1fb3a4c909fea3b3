'use strict';

const { createHash } = require('node:crypto');

/**
 * Jest transform for the CommonJS files of @nestjs/throttler: `require('@nestjs/common')` and
 * `require('@nestjs/core')` read the ES modules that nest-esm-bridge.ts loaded, since Jest
 * cannot require() an ES module before Node 24.9.
 */
module.exports = {
  process(source) {
    return {
      code: source.replace(
        /require\("@nestjs\/(common|core)"\)/g,
        (_match, name) => `globalThis.__nestEsm.${name}`,
      ),
    };
  },
  getCacheKey(source, path) {
    return createHash('sha256')
      .update('nest-esm-bridge-1\0' + path + '\0' + source)
      .digest('hex');
  },
};
