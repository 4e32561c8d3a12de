/**
 * Parses an uploaded `.npy` or `.csv` in a Web Worker: the page's main thread never reads
 * the file. The request body comes back as a Blob (a `.npy` file is itself the body), so
 * that the upload streams from it too instead of copying an ArrayBuffer on the main thread.
 */

import type { NpyBody } from '../client/http';

export interface ParseRequest {
  file: File;
}

export type ParseReply =
  | { ok: true; rows: number; cols: number; npy: Blob | null }
  | { ok: false; error: string };

export interface ParsedFile {
  name: string;
  rows: number;
  cols: number;
  body: NpyBody;
}

export function parseFile(file: File): Promise<ParsedFile> {
  const worker = new Worker(new URL('./parse.worker.ts', import.meta.url), { type: 'module' });
  return new Promise<ParsedFile>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<ParseReply>) => {
      worker.terminate();
      const reply = event.data;
      if (!reply.ok) reject(new Error(`${file.name}: ${reply.error}`));
      else resolve({ name: file.name, rows: reply.rows, cols: reply.cols, body: { npy: reply.npy ?? file } });
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`${file.name}: the parser failed: ${event.message}`));
    };
    worker.postMessage({ file } satisfies ParseRequest);
  });
}
