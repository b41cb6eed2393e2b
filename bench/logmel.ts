/**
 * Speed of the Whisper log-Mel on 30 s of audio (target: under 30 ms) and its parity with the
 * PyTorch reference features.
 *
 *   npx tsx bench/logmel.ts [runs=50]
 *
 * Prints the best wall time and the median CPU time per call; the CPU time is the steadier number
 * on a machine shared with other jobs. Under tsx the loader's own thread adds ~25% CPU; for the
 * library's real cost run the esbuild bundle with plain node:
 *
 *   npx esbuild bench/logmel.ts --bundle --platform=node --external:@tensorflow/* --outfile=scratch/logmel.js
 *   WHISPER_SHARED=$PWD/../shared node scratch/logmel.js
 */
import * as fs from 'fs';
import { sharedDir } from '../tools/shared';
import { logMelSpectrogram } from '../src/features/logmel';
import { parseFlags, positiveIntFlag } from '../apps/args';

function readF32(file: string): Float32Array {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function main(): void {
  const runs = positiveIntFlag('runs', parseFlags(process.argv.slice(2), {}).positionals[0]) ?? 50;
  // 30 s of real speech: jfk (11 s) repeated, so no frame is skipped as zero padding.
  const jfk = readF32(sharedDir('reference/whisper-tiny/fixtures/jfk.pcm.f32'));
  const audio = new Float32Array(480000);
  for (let i = 0; i < audio.length; i++) audio[i] = jfk[i % jfk.length];

  for (let i = 0; i < 10; i++) logMelSpectrogram(audio); // JIT warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    logMelSpectrogram(audio);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const med = (v: number[]) => v[Math.floor(v.length / 2)];
  console.log(`logMelSpectrogram, 30 s of audio, ${runs} runs: wall best ${wall[0].toFixed(1)} ms, ` +
    `median ${med(wall).toFixed(1)} ms; cpu median ${med(cpu).toFixed(1)} ms (target < 30 ms)`);

  for (const id of ['jfk', 'libri_19-198-0001', 'fsdd_7_theo_3']) {
    const pcm = readF32(sharedDir('reference/whisper-tiny/fixtures', `${id}.pcm.f32`));
    const ref = readF32(sharedDir('reference/whisper-tiny/fixtures', `${id}.logmel.f32`));
    const out = logMelSpectrogram(pcm);
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(out[i] - ref[i]));
    console.log(`parity ${id}: max |ours - PyTorch| = ${max.toExponential(2)} (limit 1e-4)`);
  }
}

main();
