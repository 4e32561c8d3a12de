import { useState } from 'react';
import { parseFile } from './parseFile';
import type { Source } from './settings';

export function DataPanel({ source, onChange }: { source: Source; onChange: (source: Source) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mixture = source.kind === 'demo' && source.name === 'mixture' ? source : { rows: 100_000, dims: 512 };
  const choice = source.kind === 'file' ? 'file' : source.name;

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      onChange({ kind: 'file', file: await parseFile(file) });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className="panel">
      <legend>Data</legend>
      <label className="choice">
        <input type="radio" name="source" value="digits" checked={choice === 'digits'}
          onChange={() => onChange({ kind: 'demo', name: 'digits', rows: 1797, dims: 64 })} />
        Digits demo <small>scikit-learn's 1,797 handwritten 8×8 digits</small>
      </label>
      <label className="choice">
        <input type="radio" name="source" value="mixture" checked={choice === 'mixture'}
          onChange={() => onChange({ kind: 'demo', name: 'mixture', rows: mixture.rows, dims: mixture.dims })} />
        Mixture demo <small>labelled clusters made on the server</small>
      </label>
      {choice === 'mixture' && (
        <div className="row">
          <label>rows <input type="number" name="rows" min={2} max={1000000} value={mixture.rows}
            onChange={(e) => onChange({ kind: 'demo', name: 'mixture', rows: Number(e.target.value), dims: mixture.dims })} /></label>
          <label>dims <input type="number" name="dims" min={2} max={1024} value={mixture.dims}
            onChange={(e) => onChange({ kind: 'demo', name: 'mixture', rows: mixture.rows, dims: Number(e.target.value) })} /></label>
        </div>
      )}
      <label className="choice">
        <input type="radio" name="source" value="file" checked={choice === 'file'} disabled={source.kind !== 'file'} readOnly />
        Upload <small>.npy (2-D, numeric) or .csv (numbers, optional header)</small>
      </label>
      <input type="file" accept=".npy,.csv,text/csv" aria-label="upload data" disabled={busy}
        onChange={(e) => void onFile(e.target.files?.[0])} />
      {busy && <p className="note">Reading the file…</p>}
      {source.kind === 'file' && (
        <p className="note" data-testid="file-info">{source.file.name}: {source.file.rows.toLocaleString('en-US')} × {source.file.cols}</p>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </fieldset>
  );
}
