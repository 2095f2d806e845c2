#!/usr/bin/env node
// The `memoir` command: runs the TypeScript sources through tsx, so a clone needs no build step.
require('tsx/cjs');
require('../src/cli/main.ts');
