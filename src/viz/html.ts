/** Tiny HTML helpers shared by the notebook displays (no DOM, no tslab: tests call them directly). */

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

let counter = 0;
/** A page-unique element id; notebook outputs share one HTML page, so ids must never repeat. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}-${counter}`;
}
