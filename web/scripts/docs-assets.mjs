// Copies the files /docs serves from the swagger-ui-dist package (exact version in
// package-lock.json) into the Python package (src/streaming_umap/web/static/docs), so
// that `pip install` ships a viewer that reads OpenAPI 3.1 and works offline.
// With --check, fails when the committed copies differ from the installed package.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { docsDir, repoRoot } from './paths.mjs';

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve('swagger-ui-dist/package.json'));
const { version } = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf8'));

// What the page needs (the bundle has the 'apis' preset; BaseLayout needs no standalone
// preset), and the licences that must travel with it. No source maps.
const FILES = ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE', 'NOTICE',
  'swagger-ui-bundle.js.LICENSE.txt'];
const wanted = new Map(FILES.map((name) => [name, readFileSync(join(dist, name))]));
wanted.set('VERSION', Buffer.from(`swagger-ui-dist ${version}\n`));

const where = relative(repoRoot, docsDir);
if (process.argv.includes('--check')) {
  const problems = [];
  for (const [name, bytes] of wanted) {
    const path = join(docsDir, name);
    if (!existsSync(path)) problems.push(`missing: ${name}`);
    else if (!readFileSync(path).equals(bytes)) problems.push(`differs from swagger-ui-dist ${version}: ${name}`);
  }
  const extra = existsSync(docsDir) ? readdirSync(docsDir).filter((name) => !wanted.has(name)) : [];
  for (const name of extra) problems.push(`not from swagger-ui-dist: ${name}`);
  if (problems.length > 0) {
    console.error(`${where} does not match swagger-ui-dist ${version}:\n  ${problems.join('\n  ')}\n`
      + 'Run `npm run build` in web/ and commit the result.');
    process.exit(1);
  }
  console.log(`${where} matches swagger-ui-dist ${version} (${wanted.size} files)`);
} else {
  rmSync(docsDir, { recursive: true, force: true });
  mkdirSync(docsDir, { recursive: true });
  for (const [name, bytes] of wanted) writeFileSync(join(docsDir, name), bytes);
  console.log(`wrote ${where} (swagger-ui-dist ${version}, ${wanted.size} files)`);
}
