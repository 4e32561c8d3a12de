// @vitest-environment jsdom
// The migration guide's code (MIGRATING.md) is test/guide/*.tsx, compiled under `strict` by
// `npm run typecheck`; here: the page and the files agree, and the component gets the
// documented `job.result.embeddings` / `job.result.labels` from background jobs.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { readFileSync } from 'node:fs';
import type { ReactNode } from 'react';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { StreamingUMAPClient } from '../src/client/client';
import type { SocketFactory } from '../src/client/subscription';
import { StreamingUMAPProvider } from '../src/react/context';
import { GrowingLayout } from './guide/GrowingLayout';
import { LatentSpace } from './guide/LatentSpace';
import { ScriptedService } from './support/scriptedService';
import { until } from './support/wait';

const WEB = join(import.meta.dirname, '..');

function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```tsx\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

let service: ScriptedService;

beforeEach(async () => {
  service = await new ScriptedService().start();
});

afterEach(async () => {
  cleanup();
  await service.stop();
});

function renderWithService(element: ReactNode) {
  const client = new StreamingUMAPClient({ baseUrl: service.url, WebSocket: WebSocket as unknown as SocketFactory });
  render(
    <QueryClientProvider client={new QueryClient()}>
      <StreamingUMAPProvider client={client}>{element}</StreamingUMAPProvider>
    </QueryClientProvider>,
  );
}

describe('the migration guide', () => {
  it('shows exactly the code that is compiled and tested', () => {
    const blocks = codeBlocks(readFileSync(join(WEB, 'MIGRATING.md'), 'utf8'));
    expect(blocks).toEqual(['LatentSpace.tsx', 'main.tsx', 'GrowingLayout.tsx'].map((f) => readFileSync(join(WEB, 'test', 'guide', f), 'utf8')));
  });

  it('gets job.result.embeddings, then job.result.labels, from background jobs', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => [i, i % 3, 1]);
    renderWithService(<LatentSpace embeddings={rows} />);
    const summary = () => screen.getByTestId('summary').textContent;
    expect(summary()).toBe('0 points, 0 clusters');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Run UMAP' }));
    });
    const umap = await until(() => [...service.jobs.values()].find((j) => j.kind === 'umap' && j.subscribers.size > 0), 'the UMAP job');
    act(() => umap.complete(Float32Array.from({ length: 40 }, (_, i) => i)));
    await until(() => summary() === '20 points, 0 clusters', 'the layout from job.result.embeddings');

    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Cluster the layout' }));
    });
    const cluster = await until(() => [...service.jobs.values()].find((j) => j.kind === 'cluster' && j.subscribers.size > 0), 'the clustering job');
    const sent = JSON.parse(service.requestsTo('/umap/streaming/cluster')[0].body.toString('utf8'));
    expect([sent.algorithm, sent.data.length, sent.data[1]]).toEqual(['hdbscan', 20, [2, 3]]);
    act(() => cluster.complete(Int32Array.from({ length: 20 }, (_, i) => (i < 18 ? i % 2 : -1))));
    await until(() => summary() === '20 points, 2 clusters', 'the labels from job.result.labels');
  });

  it('keeps the model of a background job and places new rows into it as a transform job', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => [i, i % 3, 1]);
    const newRows = Array.from({ length: 15 }, (_, i) => [i + 0.5, i % 3, 1]);
    renderWithService(<GrowingLayout embeddings={rows} newRows={newRows} />);
    const summary = () => screen.getByTestId('summary').textContent;
    const place = () => screen.getByRole('button', { name: 'Place the new rows' }) as HTMLButtonElement;
    expect(place().disabled).toBe(true);
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: 'Run UMAP' }));
    });
    const umap = await until(() => [...service.jobs.values()].find((j) => j.kind === 'umap' && j.subscribers.size > 0), 'the UMAP job');
    expect(umap.params.keep_model).toBe(true);
    act(() => umap.complete());
    await until(() => summary() === '20 points, 0 placed' && !place().disabled, 'the layout and its model');
    await act(async () => {
      fireEvent.click(place());
    });
    const transform = await until(() => [...service.jobs.values()].find((j) => j.kind === 'transform' && j.subscribers.size > 0), 'the transform job');
    expect(service.requestsTo(`/umap/streaming/transform/${umap.id}`)).toHaveLength(1);
    act(() => transform.complete());
    await until(() => summary() === '20 points, 15 placed', 'the placed rows from job.result.embeddings');
  });
});
