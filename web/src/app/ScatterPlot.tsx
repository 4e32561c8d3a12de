/** The interactive plot: pan (drag), zoom (wheel), hover for row index and cluster. */

import { useEffect, useRef, useState } from 'react';
import type { Matrix } from '../client/matrix';
import { Legend } from './Legend';
import { colourOf } from './scatter/palette';
import { ScatterRenderer } from './scatter/renderer';

export interface ScatterPlotProps {
  embedding: Matrix | null;
  /** Colours: cluster labels (or the demo's classes), one per row. */
  labels: Int32Array | null;
  labelName?: string;
  /** Shown in the tooltip too when given (e.g. the demo's true classes). */
  trueLabels?: Int32Array | null;
  /** Rows placed into this layout's model, drawn over it (highlighted; the view stays the layout's). */
  placed?: Matrix | null;
  caption?: string;
}

interface Hover {
  index: number;
  x: number;
  y: number;
}

declare global {
  interface Window {
    __streamingUmapPlot?: {
      pointCount: () => number;
      stats: () => { draws: number; uploads: number };
      pointToClient: (index: number) => { x: number; y: number } | null;
      placedCount: () => number;
      placedToClient: (index: number) => { x: number; y: number } | null;
    };
  }
}

export function ScatterPlot({ embedding, labels, labelName = 'cluster', trueLabels, placed = null, caption }: ScatterPlotProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const rendererRef = useRef<ScatterRenderer | null>(null);
  const [hover, setHover] = useState<Hover | null>(null);
  const [error, setError] = useState<string | null>(null);
  const drag = useRef<{ x: number; y: number; moved: boolean } | null>(null);
  const labelsRef = useRef(labels);
  labelsRef.current = labels;

  useEffect(() => {
    const canvas = canvasRef.current!;
    let renderer: ScatterRenderer;
    try {
      renderer = new ScatterRenderer(canvas);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      return undefined;
    }
    rendererRef.current = renderer;
    const observer = new ResizeObserver(() => renderer.resize(canvas.clientWidth, canvas.clientHeight));
    observer.observe(canvas);
    renderer.resize(canvas.clientWidth, canvas.clientHeight);
    const toClient = (p: { x: number; y: number } | null) => {
      if (!p) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + p.x, y: rect.top + p.y };
    };
    window.__streamingUmapPlot = {
      pointCount: () => renderer.pointCount,
      stats: () => ({ ...renderer.stats }),
      pointToClient: (index) => toClient(renderer.pointPosition(index)),
      placedCount: () => renderer.placedCount,
      placedToClient: (index) => toClient(renderer.placedPosition(index)),
    };
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      renderer.zoomAt(event.clientX - rect.left, event.clientY - rect.top, Math.exp(-event.deltaY * 0.0015));
      setHover(null);
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => {
      canvas.removeEventListener('wheel', onWheel);
      observer.disconnect();
      renderer.dispose();
      rendererRef.current = null;
      delete window.__streamingUmapPlot;
    };
  }, []);

  useEffect(() => {
    rendererRef.current?.setPoints(embedding, labelsRef.current);
    setHover((h) => (h && embedding && h.index < embedding.rows ? h : null));
  }, [embedding]);

  useEffect(() => {
    rendererRef.current?.setLabels(labels);
  }, [labels]);

  const hasPoints = embedding !== null;
  useEffect(() => {
    rendererRef.current?.setPlaced(hasPoints ? placed : null);
  }, [hasPoints, placed]);

  const local = (event: React.PointerEvent) => {
    const rect = canvasRef.current!.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  };

  const onPointerMove = (event: React.PointerEvent) => {
    const renderer = rendererRef.current;
    if (!renderer) return;
    const p = local(event);
    if (drag.current) {
      renderer.panBy(p.x - drag.current.x, p.y - drag.current.y);
      drag.current = { x: p.x, y: p.y, moved: true };
      return;
    }
    const index = renderer.pick(p.x, p.y);
    renderer.setHighlight(index);
    setHover(index >= 0 ? { index, x: p.x, y: p.y } : null);
  };

  const count = embedding?.rows ?? 0;
  const placedCount = count > 0 ? placed?.rows ?? 0 : 0;
  const labelled = labels !== null && labels.length === count && count > 0;
  const label = hover && labels && labels.length === count ? labels[hover.index] : null;
  const truth = hover && trueLabels && trueLabels.length === count ? trueLabels[hover.index] : null;
  return (
    <figure className="plot">
      <div className="plot-area">
        <canvas
          ref={canvasRef}
          className="plot-canvas"
          data-testid="scatter"
          data-points={count}
          data-placed={placedCount}
          onPointerDown={(e) => {
            (e.target as HTMLElement).setPointerCapture?.(e.pointerId);
            const p = local(e);
            drag.current = { x: p.x, y: p.y, moved: false };
          }}
          onPointerUp={() => {
            drag.current = null;
          }}
          onPointerMove={onPointerMove}
          onPointerLeave={() => {
            rendererRef.current?.setHighlight(-1);
            setHover(null);
          }}
          onDoubleClick={() => rendererRef.current?.resetView()}
        />
        {hover && (
          <div className="plot-tooltip" data-testid="tooltip" style={{ left: hover.x + 12, top: hover.y + 12 }}>
            <div>row <b>{hover.index}</b></div>
            {label !== null && (
              <div>
                <span className="swatch" style={{ background: colourOf(label) }} />
                {labelName} <b>{label < 0 ? 'noise' : label}</b>
              </div>
            )}
            {truth !== null && <div>class <b>{truth}</b></div>}
          </div>
        )}
        {count === 0 && !error && <div className="plot-empty">The layout appears here.</div>}
        {error && <div className="plot-empty">{error}</div>}
      </div>
      {(labelled || placedCount > 0) && <Legend labels={labelled ? labels : null} name={labelName} placed={placedCount} />}
      <figcaption>
        {caption ?? ''} {count > 0 && <span>{count.toLocaleString('en-US')} points · drag to pan, wheel to zoom, double-click to reset</span>}
      </figcaption>
    </figure>
  );
}
