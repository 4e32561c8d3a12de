import { createContext, useContext, type ReactNode } from 'react';
import { StreamingUMAPClient } from '../client/client';

const ClientContext = createContext<StreamingUMAPClient | null>(null);
let fallback: StreamingUMAPClient | null = null;

/** Gives `useStreamingUMAP()` below it a client (e.g. one with another base URL). */
export function StreamingUMAPProvider({ client, children }: { client: StreamingUMAPClient; children: ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/** The provided client, or one talking to the page's own origin. */
export function useStreamingUMAPClient(): StreamingUMAPClient {
  const provided = useContext(ClientContext);
  if (provided) return provided;
  fallback ??= new StreamingUMAPClient();
  return fallback;
}
