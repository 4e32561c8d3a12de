// Generates src/generated/openapi.ts from the service's OpenAPI document, dumped by
// the Python package itself (no server needed). With --check, fails when the
// committed file differs from a fresh generation, so client and server cannot drift.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { generatedFile, pythonPath, repoRoot } from './paths.mjs';

const DUMP = 'import json; from streaming_umap.web.openapi import openapi_document; '
  + 'print(json.dumps(openapi_document(), indent=1, sort_keys=True))';

const HEADER = `/**
 * Generated from the streaming-umap OpenAPI document by web/scripts/gen-types.mjs.
 * Do not edit: run \`npm run gen:types\`. \`npm run check\` fails when this file is stale.
 */

`;

function dumpOpenAPI() {
  const python = pythonPath();
  try {
    return JSON.parse(execFileSync(python, ['-c', DUMP], { cwd: repoRoot, encoding: 'utf8' }));
  } catch (error) {
    throw new Error(`could not dump the OpenAPI document with ${python} (set STREAMING_UMAP_PYTHON `
      + `to a Python that has streaming_umap installed): ${error.message}`);
  }
}

async function generate() {
  const ast = await openapiTS(dumpOpenAPI(), {
    alphabetize: true, defaultNonNullable: false, emptyObjectsUnknown: true, exportType: true,
  });
  return HEADER + astToString(ast);
}

const fresh = await generate();
const target = relative(process.cwd(), generatedFile);
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(generatedFile, 'utf8');
  } catch {
    // a missing file is reported below like a stale one
  }
  if (committed !== fresh) {
    console.error(`${target} is stale: it differs from a fresh generation from the service's `
      + 'OpenAPI document. Run `npm run gen:types` and commit the result.');
    process.exit(1);
  }
  console.log(`${target} matches the service's OpenAPI document`);
} else {
  writeFileSync(generatedFile, fresh);
  console.log(`wrote ${target}`);
}
