/** Notebook displays: HTML tables, plotly charts and audio players (tslab-free), plus `display`. */
export { escapeHtml, uniqueId } from './html';
export { tableHtml, formatCell, TableOptions } from './table';
export { plotlyHtml, histogramsHtml, resetPlotlyPage, PlotlyTrace, PlotlyLayout } from './plotly';
export { audioPlayerHtml } from './audio';
export { display } from './display';
