/**
 * Shows HTML in a tslab notebook cell. Outside tslab (tsx scripts, tests) nothing is rendered:
 * the call logs a one-line placeholder and returns the HTML so callers can still inspect it.
 */

interface TslabDisplay { html(s: string): void; text(s: string): void }

/** tslab passes its own `require` (which resolves 'tslab' to the running kernel) on globalThis. */
function tslabDisplay(): TslabDisplay | undefined {
  const g = globalThis as { __tslab__?: { require(id: string): { display: TslabDisplay } } };
  if (!g.__tslab__) return undefined;
  try {
    return g.__tslab__.require('tslab').display;
  } catch {
    return undefined;
  }
}

/**
 * In tslab: renders `html` and returns nothing (a returned string, as the last expression of a
 * cell, would be printed again below the table as raw HTML).
 */
export function display(html: string): string | undefined {
  const d = tslabDisplay();
  if (d) {
    d.html(html);
    return undefined;
  }
  if (process.env.WF_DISPLAY_LOG !== '0') console.log(`[html output: ${html.length} chars]`);
  return html;
}
