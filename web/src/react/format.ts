/** Display helpers for durations and job times. */

import type { JobView } from '../client/types';

/** `4 s`, `2 min 05 s`, `1 h 03 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Seconds left, counted down on the client clock from the last frame (frozen while paused). */
export function remainingSeconds(job: JobView, nowMs: number): number | null {
  if (job.eta_seconds === null || job.eta_seconds === undefined) return null;
  if (job.status === 'paused') return job.eta_seconds;
  return Math.max(0, job.eta_seconds - (nowMs - job.receivedAt) / 1000);
}

/** Compute seconds so far, advancing between frames while the job runs. */
export function elapsedSeconds(job: JobView, nowMs: number): number {
  if (job.status !== 'processing') return job.processing_time;
  return job.processing_time + Math.max(0, (nowMs - job.receivedAt) / 1000);
}
