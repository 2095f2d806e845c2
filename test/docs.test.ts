/**
 * Documentation that is generated stays generated: the README's configuration table is what `SETTINGS` says,
 * and the Quick start is the two commands.
 */
import fs from 'node:fs';
import path from 'node:path';
import prettier from 'prettier';
import { renderReadme } from '../scripts/gen-config-docs';

const README = path.join(__dirname, '..', 'README.md');

it('has the configuration table generated from src/config.ts (run `npm run docs:config`)', async () => {
  const current = fs.readFileSync(README, 'utf8');
  const config = (await prettier.resolveConfig(README)) ?? {};
  expect(await prettier.format(renderReadme(current), { ...config, filepath: README })).toBe(current);
});

it('opens with a Quick start of exactly `make demo` and `make test`', () => {
  const readme = fs.readFileSync(README, 'utf8');
  const quick = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(quick).toBe('make demo\nmake test\n');
});
