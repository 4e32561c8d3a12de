/**
 * A WebGL2 scatter plot: one vertex buffer of x/y, one of RGBA bytes, drawn as round
 * points in a single draw call. Frames are drawn on requestAnimationFrame only when
 * something changed; a new layout replaces the buffer contents in place. Placed points
 * (rows added to a finished layout) have a buffer of their own, drawn over the layout
 * in one colour with a ring; they never move the view, which stays fitted to the layout.
 *
 * Coordinates: data -> view (fit to the data bounds, then the user's zoom and pan,
 * in units of half the canvas's smaller side) -> clip space.
 */

import type { Matrix } from '../../client/matrix';
import { boundsOf, PointGrid, type Bounds } from './grid';
import { colourBytes, PLACED_FILL, PLACED_RING } from './palette';

const VERTEX = `#version 300 es
in vec2 a_pos;
in vec4 a_colour;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform float u_size;
out vec4 v_colour;
void main() {
  gl_Position = vec4(a_pos * u_scale + u_offset, 0.0, 1.0);
  gl_PointSize = u_size;
  v_colour = a_colour;
}`;

const FRAGMENT = `#version 300 es
precision mediump float;
in vec4 v_colour;
out vec4 colour;
void main() {
  vec2 d = gl_PointCoord - 0.5;
  if (dot(d, d) > 0.25) discard;
  colour = v_colour;
}`;

function compile(gl: WebGL2RenderingContext, type: number, source: string): WebGLShader {
  const shader = gl.createShader(type);
  if (!shader) throw new Error('WebGL2 could not create a shader');
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    throw new Error(`shader did not compile: ${gl.getShaderInfoLog(shader) ?? ''}`);
  }
  return shader;
}

function program(gl: WebGL2RenderingContext): WebGLProgram {
  const p = gl.createProgram();
  if (!p) throw new Error('WebGL2 could not create a program');
  gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX));
  gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
  gl.linkProgram(p);
  if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(`program did not link: ${gl.getProgramInfoLog(p) ?? ''}`);
  return p;
}

/** The first two columns of a matrix as interleaved x, y (no copy when it has two). */
function xyOf(m: Matrix): Float32Array {
  if (m.cols === 2) return m.data.subarray(0, m.rows * 2);
  const out = new Float32Array(m.rows * 2);
  for (let i = 0; i < m.rows; i++) {
    out[2 * i] = m.data[i * m.cols];
    out[2 * i + 1] = m.cols > 1 ? m.data[i * m.cols + 1] : 0;
  }
  return out;
}

export interface RendererStats {
  draws: number;
  uploads: number;
}

export class ScatterRenderer {
  readonly stats: RendererStats = { draws: 0, uploads: 0 };
  private readonly gl: WebGL2RenderingContext;
  private readonly prog: WebGLProgram;
  private readonly vao: WebGLVertexArrayObject;
  private readonly posBuffer: WebGLBuffer;
  private readonly colourBuffer: WebGLBuffer;
  private readonly placedVao: WebGLVertexArrayObject;
  private readonly placedBuffer: WebGLBuffer;
  private readonly colourAttribute: number;
  private readonly uniforms: Record<'scale' | 'offset' | 'size', WebGLUniformLocation | null>;
  private xy: Float32Array = new Float32Array(0);
  private count = 0;
  private placedXY: Float32Array = new Float32Array(0);
  private placed = 0;
  private capacity = 0;
  private bounds: Bounds = { minX: -1, minY: -1, maxX: 1, maxY: 1 };
  private grid: PointGrid | null = null;
  private zoom = 1;
  private pan = { x: 0, y: 0 };
  private width = 1;
  private height = 1;
  private frame = 0;
  private highlighted = -1;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const gl = canvas.getContext('webgl2', { antialias: false, alpha: false, premultipliedAlpha: false });
    if (!gl) throw new Error('this browser has no WebGL2');
    this.gl = gl;
    this.prog = program(gl);
    this.uniforms = {
      scale: gl.getUniformLocation(this.prog, 'u_scale'),
      offset: gl.getUniformLocation(this.prog, 'u_offset'),
      size: gl.getUniformLocation(this.prog, 'u_size'),
    };
    this.vao = gl.createVertexArray()!;
    this.posBuffer = gl.createBuffer()!;
    this.colourBuffer = gl.createBuffer()!;
    gl.bindVertexArray(this.vao);
    const pos = gl.getAttribLocation(this.prog, 'a_pos');
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuffer);
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    const colour = gl.getAttribLocation(this.prog, 'a_colour');
    gl.bindBuffer(gl.ARRAY_BUFFER, this.colourBuffer);
    gl.enableVertexAttribArray(colour);
    gl.vertexAttribPointer(colour, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    this.colourAttribute = colour;
    // placed points: positions only; their colour is the attribute's constant value
    this.placedVao = gl.createVertexArray()!;
    this.placedBuffer = gl.createBuffer()!;
    gl.bindVertexArray(this.placedVao);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.placedBuffer);
    gl.enableVertexAttribArray(pos);
    gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
    gl.bindVertexArray(null);
  }

  get pointCount(): number {
    return this.count;
  }

  get placedCount(): number {
    return this.placed;
  }

  /** New positions (same rows: the view keeps the user's zoom and pan). */
  setPoints(m: Matrix | null, labels: Int32Array | null): void {
    const gl = this.gl;
    const rowsChanged = (m?.rows ?? 0) !== this.count;
    this.xy = m ? xyOf(m) : new Float32Array(0);
    this.count = m?.rows ?? 0;
    this.bounds = boundsOf(this.xy, this.count);
    this.grid = null;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.posBuffer);
    if (this.count > this.capacity || rowsChanged) {
      gl.bufferData(gl.ARRAY_BUFFER, this.xy, gl.DYNAMIC_DRAW);
      this.capacity = this.count;
    } else {
      gl.bufferSubData(gl.ARRAY_BUFFER, 0, this.xy);
    }
    this.stats.uploads++;
    if (rowsChanged) {
      this.setLabels(labels);
      this.resetView();
    }
    this.requestDraw();
  }

  /** Points placed into the layout, drawn over it (null: none). */
  setPlaced(m: Matrix | null): void {
    this.placedXY = m ? xyOf(m) : new Float32Array(0);
    this.placed = m?.rows ?? 0;
    this.gl.bindBuffer(this.gl.ARRAY_BUFFER, this.placedBuffer);
    this.gl.bufferData(this.gl.ARRAY_BUFFER, this.placedXY, this.gl.STATIC_DRAW);
    this.requestDraw();
  }

  setLabels(labels: Int32Array | null): void {
    const usable = labels && labels.length === this.count ? labels : null;
    this.gl.bindBuffer(this.gl.ARRAY_BUFFER, this.colourBuffer);
    this.gl.bufferData(this.gl.ARRAY_BUFFER, colourBytes(this.count, usable), this.gl.STATIC_DRAW);
    this.requestDraw();
  }

  setHighlight(index: number): void {
    if (index === this.highlighted) return;
    this.highlighted = index;
    this.requestDraw();
  }

  resize(cssWidth: number, cssHeight: number): void {
    const dpr = globalThis.devicePixelRatio || 1;
    this.width = Math.max(1, cssWidth);
    this.height = Math.max(1, cssHeight);
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.requestDraw();
  }

  resetView(): void {
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.requestDraw();
  }

  // ------------------------------------------------------------ coordinates

  /** Data units to view units (before zoom). */
  private fitScale(): number {
    const span = Math.max(this.bounds.maxX - this.bounds.minX, this.bounds.maxY - this.bounds.minY, 1e-12);
    return 1.9 / span;
  }

  private centre(): { x: number; y: number } {
    return { x: (this.bounds.minX + this.bounds.maxX) / 2, y: (this.bounds.minY + this.bounds.maxY) / 2 };
  }

  private transform(): { sx: number; sy: number; ox: number; oy: number; s: number } {
    const s = this.fitScale() * this.zoom;
    const m = Math.min(this.width, this.height);
    const c = this.centre();
    const kx = m / this.width;
    const ky = m / this.height;
    return { s, sx: s * kx, sy: s * ky, ox: (this.pan.x - c.x * s) * kx, oy: (this.pan.y - c.y * s) * ky };
  }

  /** CSS pixels, relative to the canvas, of a data point. */
  toScreen(x: number, y: number): { x: number; y: number } {
    const t = this.transform();
    return { x: ((x * t.sx + t.ox + 1) / 2) * this.width, y: ((1 - (y * t.sy + t.oy)) / 2) * this.height };
  }

  toData(px: number, py: number): { x: number; y: number } {
    const t = this.transform();
    const cx = (px / this.width) * 2 - 1;
    const cy = 1 - (py / this.height) * 2;
    return { x: (cx - t.ox) / t.sx, y: (cy - t.oy) / t.sy };
  }

  pointPosition(index: number): { x: number; y: number } | null {
    if (index < 0 || index >= this.count) return null;
    return this.toScreen(this.xy[2 * index], this.xy[2 * index + 1]);
  }

  placedPosition(index: number): { x: number; y: number } | null {
    if (index < 0 || index >= this.placed) return null;
    return this.toScreen(this.placedXY[2 * index], this.placedXY[2 * index + 1]);
  }

  // ------------------------------------------------------------ interaction

  panBy(dxPx: number, dyPx: number): void {
    const m = Math.min(this.width, this.height);
    this.pan.x += (dxPx / m) * 2;
    this.pan.y -= (dyPx / m) * 2;
    this.requestDraw();
  }

  zoomAt(px: number, py: number, factor: number): void {
    const before = this.toData(px, py);
    this.zoom = Math.min(1e4, Math.max(0.2, this.zoom * factor));
    const after = this.toScreen(before.x, before.y);
    this.panBy(px - after.x, py - after.y);
  }

  /** The point under (px, py) within `radiusPx` CSS pixels, or -1. */
  pick(px: number, py: number, radiusPx = 8): number {
    if (this.count === 0) return -1;
    this.grid ??= new PointGrid(this.xy, this.count, this.bounds);
    const t = this.transform();
    const d = this.toData(px, py);
    const radius = (radiusPx * 2) / (Math.min(this.width, this.height) * t.s);
    return this.grid.nearest(d.x, d.y, radius);
  }

  // ------------------------------------------------------------ drawing

  requestDraw(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private pointSize(): number {
    const dpr = globalThis.devicePixelRatio || 1;
    const base = this.count > 50_000 ? 2 : this.count > 5_000 ? 3 : 5;
    return Math.min(16, base * Math.max(1, Math.sqrt(this.zoom))) * dpr;
  }

  draw(): void {
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(1, 1, 1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (this.count === 0) return;
    const t = this.transform();
    gl.useProgram(this.prog);
    gl.uniform2f(this.uniforms.scale, t.sx, t.sy);
    gl.uniform2f(this.uniforms.offset, t.ox, t.oy);
    gl.uniform1f(this.uniforms.size, this.pointSize());
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.POINTS, 0, this.count);
    if (this.highlighted >= 0 && this.highlighted < this.count) {
      gl.uniform1f(this.uniforms.size, this.pointSize() + 10);
      gl.drawArrays(gl.POINTS, this.highlighted, 1);
    }
    if (this.placed > 0) this.drawPlaced();
    gl.bindVertexArray(null);
    this.stats.draws++;
  }

  /** A dark ring, then the fill: larger than the layout's points and opaque, so they stand out. */
  private drawPlaced(): void {
    const gl = this.gl;
    const dpr = globalThis.devicePixelRatio || 1;
    const size = Math.max(this.pointSize(), 4 * dpr);
    gl.bindVertexArray(this.placedVao);
    for (const [hex, px] of [[PLACED_RING, size + 3.5 * dpr], [PLACED_FILL, size + 1 * dpr]] as const) {
      const rgb = parseInt(hex.slice(1), 16);
      gl.vertexAttrib4f(this.colourAttribute, ((rgb >> 16) & 255) / 255, ((rgb >> 8) & 255) / 255, (rgb & 255) / 255, 1);
      gl.uniform1f(this.uniforms.size, px);
      gl.drawArrays(gl.POINTS, 0, this.placed);
    }
  }

  dispose(): void {
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    const gl = this.gl;
    gl.deleteBuffer(this.posBuffer);
    gl.deleteBuffer(this.colourBuffer);
    gl.deleteBuffer(this.placedBuffer);
    gl.deleteVertexArray(this.vao);
    gl.deleteVertexArray(this.placedVao);
    gl.deleteProgram(this.prog);
  }
}
