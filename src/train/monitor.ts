/**
 * TrainingMonitor: a progress bar and a plotly chart (training loss, eval loss, WER) that update in
 * place while Seq2SeqTrainer runs, for notebooks. In tslab it writes into one display made with
 * `tslab.newDisplay()` (each update overwrites the same output); elsewhere it prints a text line.
 *
 *   const monitor = new TrainingMonitor();
 *   new Seq2SeqTrainer({ ..., callbacks: [monitor] });
 */
import { plotlyHtml, resetPlotlyPage } from '../viz/plotly';
import type { LogEntry } from './checkpoint';
import type { StepInfo, TrainerCallback } from './callbacks';

interface TslabDisplay { html(s: string): void; text(s: string): void }

function newTslabDisplay(): TslabDisplay | undefined {
  const g = globalThis as { __tslab__?: { require(id: string): { newDisplay(): TslabDisplay } } };
  try {
    return g.__tslab__?.require('tslab').newDisplay();
  } catch {
    return undefined;
  }
}

export interface MonitorOptions {
  /** Metric plotted on the right axis (default 'wer', read from eval_wer). */
  metric?: string;
  /** Redraw at most this often (ms) on step events; logs and evaluations always redraw. */
  minIntervalMs?: number;
  /** Print a text line per log entry outside notebooks (default true). */
  print?: boolean;
}

export class TrainingMonitor implements TrainerCallback {
  readonly train: { step: number; loss: number }[] = [];
  readonly evals: { step: number; loss: number; metric?: number }[] = [];
  private last?: StepInfo;
  private startedAt = Date.now();
  private lastDraw = 0;
  private display = newTslabDisplay();
  /** True once our figure inlined plotly.js: every redraw must then carry it (the output is replaced). */
  private ownsLibrary?: boolean;

  constructor(private opts: MonitorOptions = {}) {}

  onStepEnd(_args: unknown, _state: unknown, _control: unknown, s: StepInfo): void {
    this.last = s;
    if (Date.now() - this.lastDraw >= (this.opts.minIntervalMs ?? 1000)) this.draw();
  }

  onLog(_args: unknown, _state: unknown, _control: unknown, e: LogEntry): void {
    const metricKey = `eval_${this.opts.metric ?? 'wer'}`;
    if (e.loss !== undefined) this.train.push({ step: e.step, loss: e.loss });
    if (e.eval_loss !== undefined) this.evals.push({ step: e.step, loss: e.eval_loss, metric: e[metricKey] });
    if (!this.display && this.opts.print !== false) console.log(JSON.stringify(e));
    this.draw();
  }

  onEvaluate(): void {
    this.draw();
  }

  /** The progress bar: step n/N, percent, elapsed, estimated time left, last loss. */
  progressHtml(): string {
    const s = this.last;
    if (!s) return '<div>waiting for the first step...</div>';
    const pct = (100 * s.step) / s.maxSteps;
    const elapsed = (Date.now() - this.startedAt) / 1000;
    const eta = s.step ? (elapsed / s.step) * (s.maxSteps - s.step) : 0;
    return `<div style="font-family:monospace">step ${s.step}/${s.maxSteps} · epoch ${s.epoch.toFixed(2)} · ` +
      `loss ${s.loss.toFixed(4)} · lr ${s.learningRate.toExponential(2)} · ${elapsed.toFixed(0)} s elapsed, ~${eta.toFixed(0)} s left</div>` +
      `<div style="background:#eee;width:100%;height:14px"><div style="background:#4c8bf5;height:14px;width:${pct.toFixed(1)}%"></div></div>`;
  }

  /** The chart: training loss and eval loss (left axis), the metric (right axis). */
  chartHtml(): string {
    const name = (this.opts.metric ?? 'wer').toUpperCase();
    const traces = [
      { x: this.train.map((p) => p.step), y: this.train.map((p) => p.loss), name: 'training loss', mode: 'lines+markers' },
      { x: this.evals.map((p) => p.step), y: this.evals.map((p) => p.loss), name: 'eval loss', mode: 'lines+markers' },
      { x: this.evals.map((p) => p.step), y: this.evals.map((p) => p.metric ?? null), name: `eval ${name} %`, mode: 'lines+markers', yaxis: 'y2' },
    ];
    if (this.ownsLibrary) resetPlotlyPage();
    const html = plotlyHtml(traces, {
      height: 360, title: 'Training', xaxis: { title: 'step' }, yaxis: { title: 'loss' },
      yaxis2: { title: `${name} %`, overlaying: 'y', side: 'right', rangemode: 'tozero' }, legend: { orientation: 'h' },
    });
    this.ownsLibrary ??= html.length > 100_000;
    return html;
  }

  draw(): void {
    this.lastDraw = Date.now();
    if (!this.display) return;
    this.display.html(this.progressHtml() + this.chartHtml());
  }
}
