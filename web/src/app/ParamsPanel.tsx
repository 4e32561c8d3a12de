import type { ReactNode } from 'react';
import { ALGORITHMS, METRICS, type ClusterForm, type UMAPForm } from './settings';

function NumberField({ label, value, onChange, step = 1, min, max, placeholder }: {
  label: string; value: number | null; onChange: (v: number | null) => void;
  step?: number; min?: number; max?: number; placeholder?: string;
}) {
  return (
    <label>
      {label}
      <input type="number" name={label} value={value ?? ''} step={step} min={min} max={max} placeholder={placeholder}
        onChange={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))} />
    </label>
  );
}

export function UMAPPanel({ form, onChange, children }: { form: UMAPForm; onChange: (f: UMAPForm) => void; children?: ReactNode }) {
  const set = <K extends keyof UMAPForm>(key: K) => (value: UMAPForm[K]) => onChange({ ...form, [key]: value });
  return (
    <fieldset className="panel">
      <legend>UMAP</legend>
      <div className="grid2">
        <NumberField label="n_neighbors" value={form.n_neighbors} min={2} max={200} onChange={(v) => set('n_neighbors')(v ?? 15)} />
        <NumberField label="min_dist" value={form.min_dist} step={0.05} min={0} max={1} onChange={(v) => set('min_dist')(v ?? 0.1)} />
        <label>metric
          <select name="metric" value={form.metric} onChange={(e) => set('metric')(e.target.value as UMAPForm['metric'])}>
            {METRICS.map((m) => <option key={m}>{m}</option>)}
          </select>
        </label>
        <NumberField label="n_components" value={form.n_components} min={2} max={3} onChange={(v) => set('n_components')(v ?? 2)} />
        <NumberField label="n_epochs" value={form.n_epochs} min={1} max={5000} placeholder="auto" onChange={set('n_epochs')} />
        <NumberField label="random_state" value={form.random_state} min={0} placeholder="none" onChange={set('random_state')} />
      </div>
      <label className="check"><input type="checkbox" name="live" checked={form.live} onChange={(e) => set('live')(e.target.checked)} />
        animate the layout as it converges</label>
      <label className="check"><input type="checkbox" name="clusterLayout" checked={form.clusterLayout}
        onChange={(e) => set('clusterLayout')(e.target.checked)} /> cluster the layout when done</label>
      {children}
    </fieldset>
  );
}

export function ClusterPanel({ form, onChange, children }: { form: ClusterForm; onChange: (f: ClusterForm) => void; children?: ReactNode }) {
  const set = <K extends keyof ClusterForm>(key: K) => (value: ClusterForm[K]) => onChange({ ...form, [key]: value });
  return (
    <fieldset className="panel">
      <legend>Clustering</legend>
      <div className="grid2">
        <label>algorithm
          <select name="algorithm" value={form.algorithm} onChange={(e) => set('algorithm')(e.target.value as ClusterForm['algorithm'])}>
            {ALGORITHMS.map((a) => <option key={a}>{a}</option>)}
          </select>
        </label>
        {form.algorithm === 'kmeans' && (
          <NumberField label="n_clusters" value={form.n_clusters} min={1} onChange={(v) => set('n_clusters')(v ?? 10)} />
        )}
        {form.algorithm === 'dbscan' && (
          <NumberField label="eps" value={form.eps} step={0.05} min={0.001} onChange={(v) => set('eps')(v ?? 0.5)} />
        )}
        {form.algorithm === 'hdbscan' && (
          <NumberField label="min_cluster_size" value={form.min_cluster_size} min={2}
            onChange={(v) => set('min_cluster_size')(v ?? 30)} />
        )}
        {form.algorithm !== 'kmeans' && (
          <NumberField label="min_samples" value={form.min_samples} min={1} onChange={(v) => set('min_samples')(v ?? 10)} />
        )}
      </div>
      {children}
    </fieldset>
  );
}
