/**
 * Plotly figures as self-contained HTML for notebook outputs.
 *
 * Notebook outputs (live Jupyter or the nbconvert HTML export) share one page, so plotly.js
 * (about 4.7 MB) is inlined only in the first figure of a page; later figures wait for
 * `window.Plotly`. A fresh kernel starts a fresh page (the module state resets with it), and
 * `resetPlotlyPage()` forces the library in again, e.g. for a standalone HTML file.
 */
import * as fs from 'fs';
import { uniqueId } from './html';

let inlined = false;

export function resetPlotlyPage(): void {
  inlined = false;
}

/** The plotly.js bundle text, read from the installed plotly.js-dist-min package. */
function plotlyLibrary(): string {
  return fs.readFileSync(require.resolve('plotly.js-dist-min'), 'utf8');
}

export type PlotlyTrace = Record<string, unknown>;
export type PlotlyLayout = Record<string, unknown>;

/** A `<div class="plotly-figure">` plus the script that draws `data`/`layout` into it. */
export function plotlyHtml(data: PlotlyTrace[], layout: PlotlyLayout = {}, config: Record<string, unknown> = {}): string {
  const id = uniqueId('plotly');
  const lib = inlined ? '' : `<script type="text/javascript">${plotlyLibrary()}</script>`;
  inlined = true;
  // "</script>" inside the JSON would end the script element early; escape the slash.
  const json = (v: unknown) => JSON.stringify(v).replace(/<\//g, '<\\/');
  const draw = `(function draw(tries){` +
    `if (window.Plotly) { window.Plotly.newPlot(${json(id)}, ${json(data)}, ${json(layout)}, ${json({ responsive: true, ...config })}); }` +
    ` else if (tries < 200) { setTimeout(function(){ draw(tries + 1); }, 50); }})(0);`;
  return `${lib}<div id="${id}" class="plotly-figure" style="width:100%;min-height:${Number(layout.height ?? 400)}px"></div>` +
    `<script type="text/javascript">${draw}</script>`;
}

/**
 * Histograms side by side with one shared y axis (the French telephone article's per-split
 * duration plot): one subplot per named series, all binned the same way so bars compare.
 */
export function histogramsHtml(series: Record<string, readonly number[]>, options: {
  title?: string; xTitle?: string; yTitle?: string; binSize?: number; height?: number;
} = {}): string {
  const names = Object.keys(series);
  const all = names.flatMap((n) => [...series[n]]);
  const lo = all.length ? Math.min(...all) : 0;
  const hi = all.length ? Math.max(...all) : 1;
  const size = options.binSize ?? Math.max((hi - lo) / 30, 1e-6);
  const data = names.map((name, k) => ({
    type: 'histogram', name, x: [...series[name]],
    xaxis: k === 0 ? 'x' : `x${k + 1}`, yaxis: k === 0 ? 'y' : `y${k + 1}`,
    xbins: { start: Math.floor(lo / size) * size, end: hi + size, size },
  }));
  const layout: PlotlyLayout = {
    title: { text: options.title ?? '' }, height: options.height ?? 380, showlegend: false,
    grid: { rows: 1, columns: Math.max(names.length, 1), pattern: 'independent' }, bargap: 0.05,
    annotations: names.map((name, k) => ({
      text: `${name} (n=${series[name].length})`, showarrow: false,
      xref: `${k === 0 ? 'x' : `x${k + 1}`} domain`, yref: 'paper', x: 0.5, y: 1.02, yanchor: 'bottom',
    })),
  };
  names.forEach((_, k) => {
    const sfx = k === 0 ? '' : String(k + 1);
    layout[`xaxis${sfx}`] = { title: { text: options.xTitle ?? '' } };
    // Shared y axis: every subplot's y axis matches the first, so bar heights compare directly.
    layout[`yaxis${sfx}`] = k === 0 ? { title: { text: options.yTitle ?? 'count' } } : { matches: 'y', showticklabels: false };
  });
  return plotlyHtml(data, layout);
}
