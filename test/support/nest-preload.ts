// @nestjs/throttler is CommonJS and require()s NestJS 12, which is ES modules only. Jest runs
// the CommonJS modules of an ES module graph before the graph's own ES modules (Node runs them
// in import order), so a suite importing both would have the throttler require() a NestJS still
// being loaded, which Jest refuses as a require(esm) cycle. Loading NestJS here, before any
// suite, leaves the throttler's require() the finished modules: the instances the suites use.
import '@nestjs/common';
import '@nestjs/core';
