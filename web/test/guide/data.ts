/**
 * The guide's stand-in for an app's own data: three well-separated blobs, the same on
 * every run. `?rows=N` sets the size (the browser test uses more rows than the service's
 * immediate threshold, so that the guide's code follows a background job).
 */
export async function loadEmbeddings(): Promise<number[][]> {
  const rows = Number(new URLSearchParams(globalThis.location?.search ?? '').get('rows') ?? 1200);
  return Array.from({ length: rows }, (_, i) => Array.from({ length: 8 }, (_, j) => (i % 3) * 10 + Math.sin(i * 7 + j) * 0.5));
}
