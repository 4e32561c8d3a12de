import { useEffect, useState } from 'react';
import { StreamingProgressMonitor, useStreamingUMAP } from 'streaming-umap-web/react';

export function GrowingLayout({ embeddings, newRows }: { embeddings: number[][]; newRows: number[][] }) {
  const { startUMAPJob, startTransformJob, activeJobs, hasActiveJobs } = useStreamingUMAP();
  const [modelId, setModelId] = useState<string | null>(null);
  const [points, setPoints] = useState<number[][]>([]);
  const [placed, setPlaced] = useState<number[][]>([]);

  // keep_model: the answer (or the completed job) names the model the layout was fitted as.
  const runUMAP = async () => {
    const answer = await startUMAPJob.mutateAsync({ data: embeddings, keep_model: true, random_state: 42 });
    if (answer.job_id === 'immediate' && answer.embeddings) {
      setPoints(answer.embeddings);
      setModelId(answer.model_id ?? null);
    }
  };
  // New rows go into that layout; the points already there do not move.
  const placeNewRows = async (model: string) => {
    const answer = await startTransformJob(model, newRows);
    if (answer.job_id === 'immediate' && answer.embeddings) setPlaced(answer.embeddings);
  };

  useEffect(() => {
    const job = activeJobs.find((j) => j.kind === 'umap' && j.status === 'completed');
    if (job?.result?.embeddings && job.model_id) {
      setPoints(job.result.embeddings);
      setModelId(job.model_id);
    }
  }, [activeJobs]);
  useEffect(() => {
    const job = activeJobs.find((j) => j.kind === 'transform' && j.status === 'completed');
    if (job?.result?.embeddings) setPlaced(job.result.embeddings);
  }, [activeJobs]);

  return (
    <section>
      <button type="button" onClick={() => void runUMAP()} disabled={hasActiveJobs()}>Run UMAP</button>
      <button type="button" onClick={() => modelId && void placeNewRows(modelId)} disabled={!modelId || hasActiveJobs()}>
        Place the new rows
      </button>
      <StreamingProgressMonitor jobs={activeJobs} />
      <p data-testid="summary">{points.length} points, {placed.length} placed</p>
    </section>
  );
}
