/** An inline audio player: the clip as a base64 16-bit WAV inside `<audio controls>`. */
import { encodeWav } from '../audio/wav';
import { escapeHtml } from './html';

export function audioPlayerHtml(samples: Float32Array, sampleRate: number, caption?: string): string {
  const b64 = Buffer.from(encodeWav(samples, sampleRate)).toString('base64');
  const seconds = (samples.length / sampleRate).toFixed(2);
  const label = caption ? `<div style="font-size:12px">${escapeHtml(caption)}</div>` : '';
  return `<div class="wf-audio">${label}<audio controls preload="none" src="data:audio/wav;base64,${b64}" ` +
    `title="${seconds} s at ${sampleRate} Hz"></audio></div>`;
}
