// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobView } from '../src/client/types';
import { StreamingProgressMonitor, type MonitoredJob } from '../src/react/StreamingProgressMonitor';
import { formatDuration, remainingSeconds } from '../src/react/format';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function job(overrides: Partial<MonitoredJob>): MonitoredJob {
  return {
    job_id: 'a1', status: 'processing', stage: 'layout', total_points: 10_000, processed_points: 10_000,
    current_chunk: 10, total_chunks: 10, progress_percentage: 63.2, estimated_completion: null, eta_seconds: 75,
    processing_time: 5.4, epoch: 120, total_epochs: 200, seq: 7, receivedAt: Date.now(), label: 'UMAP · test',
    transport: 'websocket', ...overrides,
  };
}

describe('StreamingProgressMonitor', () => {
  it('shows progress, stage, ETA, elapsed time and the transport', () => {
    vi.useFakeTimers({ toFake: ['Date'] }); // the clock stands still: ETA and elapsed are exact
    render(<StreamingProgressMonitor jobs={[job({})]} onCancelJob={() => undefined} />);
    const bar = screen.getByRole('progressbar');
    expect(bar.getAttribute('aria-valuenow')).toBe('63.2');
    expect(screen.getByText('Layout · epoch 120/200')).toBeTruthy();
    expect(screen.getByTestId('job-eta').textContent).toBe('ETA 1 min 15 s');
    expect(screen.getByText(/elapsed 5 s/)).toBeTruthy();
    expect(screen.getByTestId('job-transport').textContent).toBe('websocket');
  });

  it('offers the buttons that fit each state and calls back with the job id', () => {
    const onCancelJob = vi.fn();
    const onPauseJob = vi.fn();
    const onResumeJob = vi.fn();
    render(
      <StreamingProgressMonitor
        jobs={[job({ job_id: 'run' }), job({ job_id: 'held', status: 'paused', label: 'held' }), job({ job_id: 'done', status: 'completed', label: 'done' })]}
        onCancelJob={onCancelJob} onPauseJob={onPauseJob} onResumeJob={onResumeJob}
      />,
    );
    const [running, paused, done] = screen.getAllByRole('listitem');
    fireEvent.click(within(running).getByRole('button', { name: 'Pause' }));
    fireEvent.click(within(running).getByRole('button', { name: 'Cancel' }));
    fireEvent.click(within(paused).getByRole('button', { name: 'Resume' }));
    expect(within(paused).queryByRole('button', { name: 'Pause' })).toBeNull();
    expect(within(paused).getByTestId('job-eta').textContent).toBe('ETA paused');
    expect(within(done).queryAllByRole('button')).toHaveLength(0);
    expect(onPauseJob).toHaveBeenCalledWith('run');
    expect(onCancelJob).toHaveBeenCalledWith('run');
    expect(onResumeJob).toHaveBeenCalledWith('held');
  });

  it('lists the result summary in the expandable details', () => {
    const result = { n_rows: 1797, n_components: 2, npy_url: '/umap/streaming/result/x?format=npy' };
    render(<StreamingProgressMonitor jobs={[job({ status: 'completed', progress_percentage: 100, result, warning: 'n_neighbors clamped' })]} />);
    expect(screen.getByText('Result details')).toBeTruthy();
    expect(screen.getByText('1797 × 2 layout')).toBeTruthy();
    expect(screen.getByRole('link', { name: '.npy' }).getAttribute('href')).toBe(result.npy_url);
    expect(screen.getByText('n_neighbors clamped')).toBeTruthy();
  });

  it('counts the ETA down on the client clock and freezes it while paused', () => {
    const view = job({ eta_seconds: 10, receivedAt: 1_000_000 }) as JobView;
    expect(remainingSeconds(view, 1_004_000)).toBe(6);
    expect(remainingSeconds(view, 1_060_000)).toBe(0);
    expect(remainingSeconds({ ...view, status: 'paused' }, 1_004_000)).toBe(10);
    expect(formatDuration(3725)).toBe('1 h 02 min');
    expect(formatDuration(null)).toBe('–');
  });
});
