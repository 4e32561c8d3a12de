/**
 * Reads an uploaded file off the main thread. A `.npy` is only checked (its header
 * gives the shape; the file itself is the request body); a `.csv` is parsed and
 * turned into a `.npy` body here.
 */

import { parseCsv } from '../client/csv';
import { matrixFromNpy } from '../client/matrix';
import { writeNpy } from '../client/npy';
import type { ParseReply, ParseRequest } from './parseFile';

async function parse(file: File): Promise<ParseReply> {
  const name = file.name.toLowerCase();
  if (name.endsWith('.npy')) {
    const m = matrixFromNpy(await file.arrayBuffer());
    if (m.cols < 2) throw new Error(`expected a 2-D array with at least 2 columns; ${file.name} has ${m.cols}`);
    return { ok: true, rows: m.rows, cols: m.cols, npy: null };
  }
  const m = parseCsv(await file.text());
  return { ok: true, rows: m.rows, cols: m.cols, npy: writeNpy(m.data, [m.rows, m.cols]) };
}

self.onmessage = async (event: MessageEvent<ParseRequest>) => {
  let reply: ParseReply;
  try {
    reply = await parse(event.data.file);
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  const transfer = reply.ok && reply.npy ? [reply.npy] : [];
  (self as unknown as Worker).postMessage(reply, transfer);
};
