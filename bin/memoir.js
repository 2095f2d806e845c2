#!/usr/bin/env node
// The `memoir` command: runs the compiled output (`npm run build` writes dist/). In a clone, `npm run memoir`
// runs the TypeScript sources through tsx instead, with no build step.
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(`memoir: ${main} is missing: run \`npm run build\` first (or \`npm run memoir\` in a clone)\n`);
  process.exit(1);
}
require(main);
