/** "Add points": rows from a file, placed by the service into the shown layout's model. */

import { useState } from 'react';
import { StreamingUMAPError } from '../client/errors';
import { parseFile, type ParsedFile } from './parseFile';

export interface PlaceTarget {
  /** The finished layout's name. */
  label: string;
  /** How many points are placed into it so far. */
  placed: number;
}

export function PlacePanel({ target, onPlace }: { target: PlaceTarget | null; onPlace: (file: ParsedFile) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const onFile = async (input: HTMLInputElement) => {
    const file = input.files?.[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      await onPlace(await parseFile(file));
    } catch (e) {
      // the service's own words, e.g. a 422 for rows of another width than the model's
      setError(e instanceof StreamingUMAPError ? `${file.name}: ${e.detail}` : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      input.value = ''; // picking the same file again adds it again
    }
  };

  return (
    <fieldset className="panel" data-testid="place-panel">
      <legend>Add points</legend>
      {target ? (
        <p className="note">Places new rows (.npy or .csv, as many columns as the data) into <b>{target.label}</b>
          {target.placed > 0 && <> · {target.placed.toLocaleString('en-US')} placed so far</>}; the layout stays as it is.</p>
      ) : (
        <p className="note">Once a layout has finished, its model places new rows into it.</p>
      )}
      <label className="choice">Add points from file
        <input type="file" accept=".npy,.csv,text/csv" aria-label="add points from file" disabled={!target || busy}
          onChange={(e) => void onFile(e.currentTarget)} />
      </label>
      {busy && <p className="note">Sending the rows…</p>}
      {error && <p className="error" role="alert" data-testid="place-error">{error}</p>}
    </fieldset>
  );
}
