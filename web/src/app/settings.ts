/** What the page's forms hold, and how it reads its URL flags. */

import type { Algorithm, ClusterParams, DemoName, Metric, UMAPParams } from '../client/types';
import type { ParsedFile } from './parseFile';

export type Source =
  | { kind: 'demo'; name: DemoName; rows: number; dims: number }
  | { kind: 'file'; file: ParsedFile };

export interface UMAPForm {
  n_neighbors: number;
  min_dist: number;
  metric: Metric;
  n_components: number;
  n_epochs: number | null;
  random_state: number | null;
  live: boolean;
  clusterLayout: boolean;
}

export interface ClusterForm {
  algorithm: Algorithm;
  n_clusters: number;
  eps: number;
  min_samples: number;
  min_cluster_size: number;
}

export const DEFAULT_UMAP: UMAPForm = {
  n_neighbors: 15, min_dist: 0.1, metric: 'euclidean', n_components: 2, n_epochs: null, random_state: 42,
  live: true, clusterLayout: true,
};

export const DEFAULT_CLUSTER: ClusterForm = {
  algorithm: 'hdbscan', n_clusters: 10, eps: 0.5, min_samples: 10, min_cluster_size: 30,
};

export const METRICS: Metric[] = ['euclidean', 'cosine', 'manhattan', 'correlation', 'chebyshev'];
export const ALGORITHMS: Algorithm[] = ['hdbscan', 'dbscan', 'kmeans'];

export function umapParams(form: UMAPForm): Partial<UMAPParams> {
  const { live: _live, clusterLayout: _cluster, ...params } = form;
  return params;
}

export function clusterParams(form: ClusterForm): Partial<ClusterParams> {
  if (form.algorithm === 'kmeans') return { algorithm: 'kmeans', n_clusters: form.n_clusters, random_state: 0 };
  if (form.algorithm === 'dbscan') return { algorithm: 'dbscan', eps: form.eps, min_samples: form.min_samples };
  return { algorithm: 'hdbscan', min_cluster_size: form.min_cluster_size, min_samples: form.min_samples };
}

export function sourceKey(source: Source): string {
  return source.kind === 'demo' ? `demo:${source.name}:${source.rows}x${source.dims}` : `file:${source.file.name}`;
}

export function sourceName(source: Source): string {
  if (source.kind === 'file') return `${source.file.name} (${source.file.rows.toLocaleString('en-US')} × ${source.file.cols})`;
  if (source.name === 'digits') return 'digits demo (1,797 × 64)';
  return `mixture demo (${source.rows.toLocaleString('en-US')} × ${source.dims})`;
}

export interface PageFlags {
  /** Base URL of the service (`?api=`); empty = this page's origin. */
  api: string;
  /** `?transport=polling`: never open a WebSocket. */
  forcePolling: boolean;
  /** `?job=<id>`: follow a job started elsewhere. */
  job: string | null;
  /** `?live=1`: with `job`, ask for intermediate layouts. */
  live: boolean;
}

export function readFlags(search: string): PageFlags {
  const q = new URLSearchParams(search);
  return {
    api: q.get('api') ?? '',
    forcePolling: q.get('transport') === 'polling',
    job: q.get('job'),
    live: q.get('live') === '1' || q.get('live') === 'true',
  };
}
