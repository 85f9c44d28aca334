import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from '../config.ts';

/** `npm run docs:config`: rewrite the README configuration table from the config schema. */
const file = new URL('../../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const start = '<!-- config-table:start -->';
const end = '<!-- config-table:end -->';
const [head, rest] = readme.split(start);
const tail = rest?.split(end)[1];
if (head === undefined || tail === undefined) {
  console.error('README.md has no config-table markers');
  process.exit(1);
}
writeFileSync(file, `${head}${start}\n${configTable()}\n${end}${tail}`);
console.log('README configuration table updated');
