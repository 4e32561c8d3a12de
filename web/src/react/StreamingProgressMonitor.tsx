/**
 * A progress card per job: status indicator, stage, progress bar, ETA and elapsed
 * time, cancel/pause/resume buttons, and expandable result details.
 */

import { useEffect, useState, type ReactNode } from 'react';
import { isTerminal, type JobView, type Transport } from '../client/types';
import { elapsedSeconds, formatDuration, remainingSeconds } from './format';

export interface MonitoredJob extends JobView {
  jobId?: string;
  label?: string;
  transport?: Transport;
}

export interface StreamingProgressMonitorProps<J extends MonitoredJob = MonitoredJob> {
  jobs: readonly J[];
  onCancelJob?: (jobId: string) => void;
  onPauseJob?: (jobId: string) => void;
  onResumeJob?: (jobId: string) => void;
  onRemoveJob?: (jobId: string) => void;
  /** Extra content per job (e.g. a "show in plot" button). */
  renderActions?: (job: J) => ReactNode;
  /** Extra result details per job. */
  renderDetails?: (job: J) => ReactNode;
  className?: string;
}

const STAGE_NAMES: Record<string, string> = {
  queued: 'Queued', load: 'Loading data', knn: 'Nearest neighbours', graph: 'Fuzzy graph',
  layout: 'Layout', cluster: 'Clustering', write: 'Writing result', done: 'Done',
  index: 'Model index', transform: 'Placing rows', place: 'Placing new rows',
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return active ? now : Date.now();
}

function stageText(job: JobView): string {
  const name = STAGE_NAMES[job.stage] ?? job.stage;
  if (job.stage === 'layout' && job.epoch != null && job.total_epochs) return `${name} · epoch ${job.epoch}/${job.total_epochs}`;
  if (job.stage === 'knn' && job.total_chunks > 1) return `${name} · chunk ${job.current_chunk}/${job.total_chunks}`;
  return name;
}

function Details({ job }: { job: JobView }) {
  const rows: [string, ReactNode][] = [['Job id', <code key="id">{job.job_id}</code>], ['Points', job.total_points.toLocaleString('en-US')]];
  const r = job.result;
  if (r) {
    if (r.n_rows !== undefined) {
      rows.push(['Result', r.n_components !== undefined ? `${r.n_rows} × ${r.n_components} layout` : `${r.n_rows} labels`]);
    }
    if (r.n_clusters !== undefined && r.n_clusters !== null) rows.push(['Clusters', String(r.n_clusters)]);
    if (r.noise_points !== undefined && r.noise_points !== null) rows.push(['Noise points', String(r.noise_points)]);
    if (typeof r.npy_url === 'string') rows.push(['Download', <a key="npy" href={r.npy_url}>.npy</a>]);
  }
  if (job.model_id) rows.push(['Model', <code key="model">{job.model_id}</code>]);
  rows.push(['Compute time', formatDuration(job.processing_time)]);
  if (job.params) rows.push(['Parameters', <code key="p">{JSON.stringify(job.params)}</code>]);
  if (job.warning) rows.push(['Warning', job.warning]);
  if (job.error) rows.push(['Error', job.error]);
  return (
    <dl className="sum-details">
      {rows.map(([k, v]) => (
        <div key={k}><dt>{k}</dt><dd>{v}</dd></div>
      ))}
    </dl>
  );
}

function JobCard<J extends MonitoredJob>({ job, now, props }: { job: J; now: number; props: StreamingProgressMonitorProps<J> }) {
  const id = job.jobId ?? job.job_id;
  const terminal = isTerminal(job.status);
  const pct = Math.max(0, Math.min(100, job.progress_percentage));
  const eta = remainingSeconds(job, now);
  const canPause = job.status === 'processing' || job.status === 'pending';
  return (
    <li className={`sum-job sum-status-${job.status}`} data-job-id={id} data-status={job.status}>
      <div className="sum-head">
        <span className="sum-dot" aria-hidden="true" />
        <span className="sum-label">{job.label ?? id}</span>
        <span className="sum-status" data-testid="job-status">{job.status}</span>
        {job.transport && job.transport !== 'closed' && (
          <span className="sum-transport" data-testid="job-transport">{job.transport}</span>
        )}
      </div>
      <div className="sum-stage">{stageText(job)}</div>
      <div className="sum-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct * 10) / 10}
        aria-label={`progress of ${job.label ?? id}`}>
        <div className="sum-bar-fill" style={{ width: `${pct}%` }} />
      </div>
      <div className="sum-times">
        <span data-testid="job-percent">{pct.toFixed(1)} %</span>
        <span>elapsed {formatDuration(elapsedSeconds(job, now))}</span>
        {!terminal && <span data-testid="job-eta">ETA {job.status === 'paused' ? 'paused' : formatDuration(eta)}</span>}
      </div>
      <div className="sum-actions">
        {!terminal && canPause && props.onPauseJob && (
          <button type="button" onClick={() => props.onPauseJob?.(id)}>Pause</button>
        )}
        {job.status === 'paused' && props.onResumeJob && (
          <button type="button" onClick={() => props.onResumeJob?.(id)}>Resume</button>
        )}
        {!terminal && job.status !== 'cancelling' && props.onCancelJob && (
          <button type="button" className="sum-cancel" onClick={() => props.onCancelJob?.(id)}>Cancel</button>
        )}
        {terminal && props.onRemoveJob && (
          <button type="button" onClick={() => props.onRemoveJob?.(id)}>Remove</button>
        )}
        {props.renderActions?.(job)}
      </div>
      <details className="sum-more">
        <summary>{job.status === 'completed' ? 'Result details' : 'Details'}</summary>
        <Details job={job} />
        {props.renderDetails?.(job)}
      </details>
    </li>
  );
}

export function StreamingProgressMonitor<J extends MonitoredJob>(props: StreamingProgressMonitorProps<J>) {
  const active = props.jobs.some((job) => !isTerminal(job.status));
  const now = useNow(active);
  if (props.jobs.length === 0) return <p className="sum-empty">No jobs yet.</p>;
  return (
    <ul className={`sum-monitor ${props.className ?? ''}`.trim()} aria-label="jobs">
      {props.jobs.map((job) => (
        <JobCard key={job.jobId ?? job.job_id} job={job} now={now} props={props} />
      ))}
    </ul>
  );
}
