import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { StreamingUMAPClient } from '../client/client';
import { StreamingUMAPProvider } from '../react/context';
import { App } from './App';
import { readFlags } from './settings';
import './styles.css';

const flags = readFlags(window.location.search);
const client = new StreamingUMAPClient({ baseUrl: flags.api });
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1 } } });

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <StreamingUMAPProvider client={client}>
        <App flags={flags} />
      </StreamingUMAPProvider>
    </QueryClientProvider>
  </StrictMode>,
);
