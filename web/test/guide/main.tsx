import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createRoot } from 'react-dom/client';
import { loadEmbeddings } from './data';
import { LatentSpace } from './LatentSpace';

const queryClient = new QueryClient();
const embeddings = await loadEmbeddings(); // rows x dims, as number[][]

createRoot(document.getElementById('root')!).render(
  <QueryClientProvider client={queryClient}>
    <LatentSpace embeddings={embeddings} />
  </QueryClientProvider>,
);
