/** Asks for an API key when the service requires one; the page keeps it for this tab only. */

import { useState } from 'react';

export const KEY_STORAGE = 'streaming-umap.api-key';

/** The key this tab was given, if any (sessionStorage: gone when the tab closes). */
export function storedKey(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(KEY_STORAGE) || null;
  } catch {
    return null; // storage blocked: ask again
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) globalThis.sessionStorage?.setItem(KEY_STORAGE, key);
    else globalThis.sessionStorage?.removeItem(KEY_STORAGE);
  } catch {
    // storage blocked: the key lives in this page only
  }
}

export function KeyPrompt({ refused, onKey }: { refused: boolean; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <form aria-label="API key" onSubmit={(e) => { e.preventDefault(); if (value.trim()) onKey(value.trim()); }}>
      <fieldset className="panel key-prompt">
      <legend>API key</legend>
      <p className={refused ? 'error' : 'note'} role={refused ? 'alert' : undefined}>
        {refused ? 'The service refused this API key (unknown, revoked or mistyped).'
          : 'This service requires an API key.'} It is kept for this tab only.
      </p>
      <div className="row">
        <input type="password" aria-label="API key" autoComplete="off" spellCheck={false}
          placeholder="sumap_…" value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="submit" className="primary" disabled={!value.trim()}>Use key</button>
      </div>
      </fieldset>
    </form>
  );
}
