// Builds the page into a temporary folder and compares it, file by file, with the
// bundle committed inside the Python package (src/streaming_umap/web/static/app):
// the page that `pip install` ships must be the page this source builds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { bundleDir, repoRoot, webRoot } from './paths.mjs';

function files(dir, root = dir) {
  let out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(files(path, root));
    else out.push(relative(root, path));
  }
  return out;
}

const fresh = mkdtempSync(join(tmpdir(), 'sum-bundle-'));
try {
  execFileSync(process.execPath, [join(webRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'error'], {
    cwd: webRoot, env: { ...process.env, SUM_OUT_DIR: fresh }, stdio: ['ignore', 'inherit', 'inherit'],
  });
  const built = files(fresh);
  const committed = files(bundleDir);
  const problems = [];
  for (const f of built) {
    if (!committed.includes(f)) problems.push(`missing from the committed bundle: ${f}`);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(bundleDir, f)))) problems.push(`differs: ${f}`);
  }
  for (const f of committed) if (!built.includes(f)) problems.push(`not in a fresh build: ${f}`);
  const where = relative(repoRoot, bundleDir);
  if (problems.length > 0) {
    console.error(`${where} does not match a fresh build of web/:\n  ${problems.join('\n  ')}\n`
      + 'Run `npm run build` in web/ and commit the result.');
    process.exit(1);
  }
  console.log(`${where} matches a fresh build (${built.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
