/** The built-in page: load data, start jobs, watch them, and explore the layout. */

import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { appendRows, type Matrix } from '../client/matrix';
import { UnauthorizedError } from '../client/errors';
import { hasDetails, isTerminal, type Health, type HealthStatus } from '../client/types';
import { StreamingProgressMonitor } from '../react/StreamingProgressMonitor';
import { useStreamingUMAP, type ActiveJob, type JobData } from '../react/useStreamingUMAP';
import { DataPanel } from './DataPanel';
import { KeyPrompt, storedKey, storeKey } from './KeyPrompt';
import { ClusterPanel, UMAPPanel } from './ParamsPanel';
import type { ParsedFile } from './parseFile';
import { PlacePanel } from './PlacePanel';
import { ScatterPlot } from './ScatterPlot';
import {
  clusterParams, DEFAULT_CLUSTER, DEFAULT_UMAP, sourceKey, sourceName, umapParams,
  type PageFlags, type Source,
} from './settings';

interface Layout {
  id: string;
  label: string;
  embedding: Matrix | null;
  sourceKey: string | null;
  /** The model kept with the finished layout (keep_model), which places new rows into it. */
  modelId: string | null;
}

type ColourBy = 'layout' | 'data' | 'classes' | 'none';

function jobData(source: Source): JobData {
  if (source.kind === 'file') return source.file.body;
  return source.name === 'digits' ? { demo: 'digits' } : { demo: 'mixture', size: { rows: source.rows, dims: source.dims } };
}

function layoutOf(job: ActiveJob): Matrix | null {
  if (job.output?.kind === 'umap') return job.output.embedding;
  // A live layout is shown while its job runs, and once it completed until its result is fetched
  // (else the plot would drop to nothing in between); a cancelled or failed job's last one is not a result.
  return endedWithout(job) ? null : job.layout?.embedding ?? null;
}

/** A job that will never have a layout to show. */
function endedWithout(job: ActiveJob): boolean {
  return isTerminal(job.status) && job.status !== 'completed';
}

/** `UMAP · x`, then `UMAP · x · run 2`, ...: every card and layout of the page has its own name. */
function useRunNames(): (base: string) => string {
  const runs = useRef(new Map<string, number>());
  return (base) => {
    const n = (runs.current.get(base) ?? 0) + 1;
    runs.current.set(base, n);
    return n === 1 ? base : `${base} · run ${n}`;
  };
}

/** Health now, every 2 s while jobs run (15 s otherwise), and at once when a job changes state. */
function useHealth(sum: ReturnType<typeof useStreamingUMAP>, token: string | null) {
  const running = sum.activeJobs.some((job) => !isTerminal(job.status));
  const health = useQuery({
    queryKey: ['health', token], queryFn: () => sum.client.health(), refetchInterval: running ? 2000 : 15000,
    retry: (count, error) => !(error instanceof UnauthorizedError) && count < 1,
  });
  const states = sum.activeJobs.map((job) => `${job.jobId}:${job.status}`).join(' ');
  const refetch = useRef(health.refetch);
  refetch.current = health.refetch;
  useEffect(() => {
    if (states) void refetch.current();
  }, [states]);
  return { data: health.data, refused: health.error instanceof UnauthorizedError };
}

function healthText(h: Health | HealthStatus): string {
  if (!hasDetails(h)) return `${h.status} · an API key is needed for more`;
  const w = h.workers;
  const parts = [h.status, h.backend, h.device, `${w.idle}/${w.total} workers idle`];
  if (w.warming > 0) parts.push(`${w.warming} warming`);
  const step = h.warmup?.step;  // while no job worker is warm: what the warm-up is doing
  if (typeof step === 'string') parts.push(`${step} (${Math.round(Number(h.warmup?.elapsed_seconds ?? 0))} s)`);
  if (h.queue_depth > 0) parts.push(`${h.queue_depth} queued`);
  return parts.join(' · ');
}

export function App({ flags }: { flags: PageFlags }) {
  const [token, setToken] = useState<string | null>(storedKey);
  const [keyRefused, setKeyRefused] = useState(false);
  const sum = useStreamingUMAP({ forcePolling: flags.forcePolling, token });
  const { client } = sum;
  const [source, setSource] = useState<Source>({ kind: 'demo', name: 'digits', rows: 1797, dims: 64 });
  const [umapForm, setUmapForm] = useState(DEFAULT_UMAP);
  const [clusterForm, setClusterForm] = useState(DEFAULT_CLUSTER);
  const [selected, setSelected] = useState<string | null>(flags.job);
  const [immediates, setImmediates] = useState<Layout[]>([]);
  const [layoutClusters, setLayoutClusters] = useState<Record<string, Int32Array>>({});
  const [dataClusters, setDataClusters] = useState<Record<string, Int32Array>>({});
  const [classes, setClasses] = useState<Record<string, Int32Array>>({});
  const [placed, setPlaced] = useState<Record<string, Matrix>>({});
  const [colourBy, setColourBy] = useState<ColourBy>('layout');
  const [message, setMessage] = useState<string | null>(null);
  const [followId, setFollowId] = useState('');
  const clustered = useRef(new Set<string>());
  const collected = useRef(new Set<string>());
  const lastShown = useRef<string | null>(null);
  const runName = useRunNames();
  const health = useHealth(sum, token);
  const h = health.data;
  // keys are required and this tab has none, or the one it has was refused
  const needsKey = keyRefused || health.refused || (h !== undefined && !hasDetails(h) && h.auth === 'required');
  const useKey = (key: string) => {
    storeKey(key);
    setKeyRefused(false);
    setMessage(null);
    setToken(key);
  };

  useEffect(() => {
    if (flags.job) sum.followJob(flags.job, { live: flags.live, liveEvery: 1 });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const fail = (error: unknown) => {
    if (error instanceof UnauthorizedError && error.status === 401) setKeyRefused(true);
    setMessage(error instanceof Error ? error.message : String(error));
  };

  const loadClasses = (src: Source) => {
    if (src.kind !== 'demo' || classes[sourceKey(src)]) return;
    const size = src.name === 'mixture' ? { rows: src.rows, dims: src.dims } : {};
    client.demoLabels(src.name, size).then((labels) => setClasses((c) => ({ ...c, [sourceKey(src)]: labels })), fail);
  };

  const clusterLayout = async (layoutId: string, label: string, embedding: Matrix) => {
    clustered.current.add(layoutId);
    const started = await sum.startClusteringJob.mutateAsync({
      data: embedding, ...clusterParams(clusterForm), label: runName(`Clusters · ${label}`), meta: { layoutOf: layoutId },
    });
    if (started.typed?.kind === 'cluster') {
      const labels = started.typed.labels;
      setLayoutClusters((c) => ({ ...c, [layoutId]: labels }));
    }
  };

  const runUMAP = async () => {
    setMessage(null);
    const key = sourceKey(source);
    try {
      loadClasses(source);
      const label = runName(`UMAP · ${sourceName(source)}`);
      // keep_model: a finished layout places new rows into itself ("Add points")
      const started = await sum.startUMAPJob.mutateAsync({
        data: jobData(source), ...umapParams(umapForm), keep_model: true, live: umapForm.live, liveEvery: 1,
        label, meta: { sourceKey: key, clusterLayout: umapForm.clusterLayout },
      });
      if (started.typed?.kind === 'umap') {
        const layout = {
          id: `immediate-${immediates.length + 1}`, label: `${label} (immediate)`, embedding: started.typed.embedding,
          sourceKey: key, modelId: started.model_id ?? null,
        };
        setImmediates((list) => [layout, ...list]);
        setSelected(layout.id);
        if (umapForm.clusterLayout) await clusterLayout(layout.id, layout.label, started.typed.embedding);
      } else {
        setSelected(started.job_id);
      }
    } catch (error) {
      fail(error);
    }
  };

  const runClustering = async () => {
    setMessage(null);
    const key = sourceKey(source);
    try {
      loadClasses(source);
      const started = await sum.startClusteringJob.mutateAsync({
        data: jobData(source), ...clusterParams(clusterForm), label: runName(`Clusters · ${sourceName(source)}`), meta: { dataOf: key },
      });
      if (started.typed?.kind === 'cluster') {
        const labels = started.typed.labels;
        setDataClusters((c) => ({ ...c, [key]: labels }));
      }
    } catch (error) {
      fail(error);
    }
  };

  const addPlaced = (layoutId: string, rows: Matrix) => {
    setPlaced((p) => ({ ...p, [layoutId]: p[layoutId] ? appendRows(p[layoutId], rows) : rows }));
  };

  const placeInto = async (layout: Layout, modelId: string, file: ParsedFile) => {
    try {
      const started = await sum.startTransformJob(modelId, file.body, {
        label: runName(`Placed · ${file.name} · into ${layout.label}`), meta: { placedInto: layout.id },
      });
      if (started.typed?.kind === 'transform') addPlaced(layout.id, started.typed.embedding);
    } catch (error) {
      if (error instanceof UnauthorizedError && error.status === 401) setKeyRefused(true);
      throw error; // the panel shows it
    }
  };

  // Finished jobs feed the plot: cluster a finished layout (when asked), collect labels and placed points.
  useEffect(() => {
    for (const job of sum.activeJobs) {
      const out = job.output;
      const into = job.meta.placedInto;
      if (out?.kind === 'transform' && typeof into === 'string' && !collected.current.has(job.jobId)) {
        collected.current.add(job.jobId);
        addPlaced(into, out.embedding);
      }
      if (out?.kind === 'umap' && job.meta.clusterLayout && !clustered.current.has(job.jobId)) {
        clusterLayout(job.jobId, job.label, out.embedding).catch(fail);
      }
      if (out?.kind === 'cluster') {
        const layoutId = job.meta.layoutOf;
        const dataKey = job.meta.dataOf;
        if (typeof layoutId === 'string' && layoutClusters[layoutId] !== out.labels) {
          setLayoutClusters((c) => ({ ...c, [layoutId]: out.labels }));
        }
        if (typeof dataKey === 'string' && dataClusters[dataKey] !== out.labels) {
          setDataClusters((c) => ({ ...c, [dataKey]: out.labels }));
        }
      }
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sum.activeJobs]);

  const layouts: Layout[] = useMemo(() => [
    ...sum.activeJobs.filter((j) => j.kind === 'umap' && !endedWithout(j)).map((j) => ({
      id: j.jobId, label: j.label, embedding: layoutOf(j), sourceKey: typeof j.meta.sourceKey === 'string' ? j.meta.sourceKey : null,
      modelId: j.output ? j.model_id ?? j.result?.model_id ?? null : null,
    })),
    ...immediates,
  ], [sum.activeJobs, immediates]);
  // The chosen layout once it has points; until then (a job still queued) the one shown before.
  const drawable = (id: string | null) => layouts.find((l) => l.id === id && l.embedding !== null);
  const shown = drawable(selected) ?? drawable(lastShown.current) ?? layouts.find((l) => l.embedding !== null) ?? null;
  lastShown.current = shown?.id ?? null;
  const shownPlaced = shown ? placed[shown.id] ?? null : null;
  const shownModel = shown?.embedding ? shown.modelId : null;
  const options: Record<ColourBy, Int32Array | null> = {
    layout: shown ? layoutClusters[shown.id] ?? null : null,
    data: shown?.sourceKey ? dataClusters[shown.sourceKey] ?? null : null,
    classes: shown?.sourceKey ? classes[shown.sourceKey] ?? null : null,
    none: null,
  };
  const colourKey: ColourBy = options[colourBy] ? colourBy
    : (['layout', 'data', 'classes'] as ColourBy[]).find((k) => options[k]) ?? 'none';
  const NAMES: Record<ColourBy, string> = { layout: 'clusters of the layout', data: 'clusters of the data', classes: 'demo classes', none: 'one colour' };

  return (
    <div className="page">
      <header className="top">
        <h1>streaming-umap</h1>
        <span className="health" data-testid="health">
          {h ? healthText(h) : 'connecting…'}
        </span>
        <a href="/docs">API docs</a>
      </header>
      <main className="layout">
        <aside className="side">
          {needsKey && <KeyPrompt refused={keyRefused || health.refused} onKey={useKey} />}
          <DataPanel source={source} onChange={setSource} />
          <UMAPPanel form={umapForm} onChange={setUmapForm}>
            <button type="button" className="primary" onClick={() => void runUMAP()} disabled={sum.startUMAPJob.isPending}>
              Run UMAP
            </button>
          </UMAPPanel>
          <ClusterPanel form={clusterForm} onChange={setClusterForm}>
            <div className="row">
              <button type="button" onClick={() => void runClustering()} disabled={sum.startClusteringJob.isPending}>Cluster the data</button>
              <button type="button" disabled={!shown?.embedding}
                onClick={() => shown?.embedding && clusterLayout(shown.id, shown.label, shown.embedding).catch(fail)}>
                Cluster the shown layout
              </button>
            </div>
          </ClusterPanel>
          <PlacePanel target={shown && shownModel ? { label: shown.label, placed: shownPlaced?.rows ?? 0 } : null}
            onPlace={(file) => (shown && shownModel ? placeInto(shown, shownModel, file) : Promise.resolve())} />
          <fieldset className="panel">
            <legend>Follow a job</legend>
            <div className="row">
              <input aria-label="job id" placeholder="job id" value={followId} onChange={(e) => setFollowId(e.target.value.trim())} />
              <button type="button" disabled={!followId}
                onClick={() => { sum.followJob(followId, { live: true, liveEvery: 1 }); setSelected(followId); }}>Follow</button>
            </div>
          </fieldset>
          {message && <p className="error" role="alert">{message}</p>}
        </aside>
        <section className="main">
          <div className="plot-head">
            <label>layout
              <select aria-label="layout" value={shown?.id ?? ''} onChange={(e) => setSelected(e.target.value)}>
                {layouts.length === 0 && <option value="">none yet</option>}
                {layouts.map((l) => <option key={l.id} value={l.id}>{l.label}</option>)}
              </select>
            </label>
            <label>colour by
              <select aria-label="colour by" value={colourKey} onChange={(e) => setColourBy(e.target.value as ColourBy)}>
                {(Object.keys(options) as ColourBy[]).filter((k) => k === 'none' || options[k]).map((k) => (
                  <option key={k} value={k}>{NAMES[k]}</option>
                ))}
              </select>
            </label>
          </div>
          <ScatterPlot
            embedding={shown?.embedding ?? null}
            labels={options[colourKey]}
            labelName={colourKey === 'classes' ? 'class' : 'cluster'}
            trueLabels={colourKey !== 'classes' ? options.classes : null}
            placed={shownPlaced}
            caption={shown?.label}
          />
          <h2>Jobs</h2>
          <StreamingProgressMonitor
            jobs={sum.activeJobs}
            onCancelJob={(id) => sum.cancelJob.mutate(id, { onError: fail })}
            onPauseJob={(id) => sum.pauseJob.mutate(id, { onError: fail })}
            onResumeJob={(id) => sum.resumeJob.mutate(id, { onError: fail })}
            onRemoveJob={sum.removeJob}
            renderActions={(job) => job.kind === 'umap' && layoutOf(job) && job.jobId !== shown?.id ? (
              <button type="button" onClick={() => setSelected(job.jobId)}>Show</button>
            ) : null}
          />
        </section>
      </main>
    </div>
  );
}
