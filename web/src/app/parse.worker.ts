/**
 * Reads an uploaded file off the main thread. A `.npy` is only checked (its header
 * gives the shape; the file itself is the request body); a `.csv` is parsed and
 * turned into a `.npy` body here.
 */

import { parseCsv } from '../client/csv';
import { matrixFromNpy } from '../client/matrix';
import { writeNpy } from '../client/npy';
import type { ParseReply, ParseRequest } from './parseFile';

function checkColumns(cols: number, file: File): void {
  // the service refuses fewer (docs/API.md): say so before uploading
  if (cols < 2) throw new Error(`expected rows of at least 2 columns; ${file.name} has ${cols}`);
}

async function parse(file: File): Promise<ParseReply> {
  const name = file.name.toLowerCase();
  if (name.endsWith('.npy')) {
    const m = matrixFromNpy(await file.arrayBuffer());
    checkColumns(m.cols, file);
    return { ok: true, rows: m.rows, cols: m.cols, npy: null };
  }
  const m = parseCsv(await file.text());
  checkColumns(m.cols, file);
  const npy = new Blob([writeNpy(m.data, [m.rows, m.cols])], { type: 'application/x-npy' });
  return { ok: true, rows: m.rows, cols: m.cols, npy };
}

self.onmessage = async (event: MessageEvent<ParseRequest>) => {
  let reply: ParseReply;
  try {
    reply = await parse(event.data.file);
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  (self as unknown as Worker).postMessage(reply); // a Blob is passed by reference, not copied
};
