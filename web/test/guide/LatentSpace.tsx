import { useEffect, useState } from 'react';
import { StreamingProgressMonitor, useStreamingUMAP } from 'streaming-umap-web/react';

export function LatentSpace({ embeddings }: { embeddings: number[][] }) {
  const { startUMAPJob, startClusteringJob, activeJobs, cancelJob, hasActiveJobs } = useStreamingUMAP();
  const [points, setPoints] = useState<number[][]>([]);
  const [labels, setLabels] = useState<number[]>([]);

  // Small inputs are answered at once: the result is in the answer itself.
  const runUMAP = async () => {
    const answer = await startUMAPJob.mutateAsync({ data: embeddings, n_neighbors: 15, random_state: 42 });
    if (answer.job_id === 'immediate' && answer.embeddings) setPoints(answer.embeddings);
  };
  const clusterLayout = async () => {
    const answer = await startClusteringJob.mutateAsync({ data: points, algorithm: 'hdbscan', min_cluster_size: 20 });
    if (answer.job_id === 'immediate' && answer.labels) setLabels(answer.labels);
  };

  // Larger ones run as jobs: once completed, job.result has the same fields.
  useEffect(() => {
    const job = activeJobs.find((j) => j.kind === 'umap' && j.status === 'completed');
    if (job?.result?.embeddings) setPoints(job.result.embeddings);
  }, [activeJobs]);
  useEffect(() => {
    const job = activeJobs.find((j) => j.kind === 'cluster' && j.status === 'completed');
    if (job?.result?.labels) setLabels(job.result.labels);
  }, [activeJobs]);

  return (
    <section>
      <button type="button" onClick={() => void runUMAP()} disabled={hasActiveJobs()}>Run UMAP</button>
      <button type="button" onClick={() => void clusterLayout()} disabled={points.length === 0 || hasActiveJobs()}>
        Cluster the layout
      </button>
      <StreamingProgressMonitor jobs={activeJobs} onCancelJob={(id) => cancelJob.mutate(id)} />
      <p data-testid="summary">{points.length} points, {new Set(labels.filter((l) => l >= 0)).size} clusters</p>
    </section>
  );
}
