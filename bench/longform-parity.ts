/**
 * Long-form parity with openai transcribe() (issue 22): the CLI (`runCli`, JSON output) on the three
 * recordings of shared/reference/whisper-tiny/longform, segments compared with openai's, and the
 * time per minute of audio.
 *
 *   npx tsx bench/longform-parity.ts [--before DIR] [--only WORD]
 *
 * --before DIR: also run the CLI of another checkout (e.g. `git archive 72b25c1 src | tar -x -C DIR`
 * with node_modules linked), interleaved with this one file by file, so both see the same machine.
 * Wall and CPU seconds of the process are printed; on a shared machine compare the CPU seconds.
 */
import * as path from 'path';
import { initBackend } from '../src/backend';
import { readAudioHeader } from '../src/audio/header';
import { cliArgs, compareWithReference, LONGFORM_CASES, longformPath } from '../test/helpers/longformParity';
import { parseFlags } from '../apps/args';

type RunCli = (argv: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void }) => Promise<number>;

async function timed(runCli: RunCli, args: string[]) {
  let out = '';
  let err = '';
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (code !== 0) throw new Error(`CLI exited ${code}: ${err}`);
  return { result: JSON.parse(out), seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function main() {
  const { values } = parseFlags(process.argv.slice(2), { before: { type: 'string' }, only: { type: 'string' } });
  const { before: beforeDir, only } = values;
  await initBackend();
  const versions: { name: string; runCli: RunCli }[] = [{ name: 'after', runCli: (await import('../apps/cli/transcribe')).runCli }];
  if (beforeDir) {
    // The code measured against has the layout from before apps/ (src/cli).
    versions.unshift({ name: 'before', runCli: (await import(path.resolve(beforeDir, 'src/cli/transcribe'))).runCli });
  }
  // Warm-up: model load and first compilation, outside the timings.
  for (const v of versions) await timed(v.runCli, [longformPath('fr_long.flac'), '--output-format', 'json', '--language', 'fr', '--max-new-tokens', '1']);
  for (const c of LONGFORM_CASES.filter((x) => !only || x.reference.includes(only))) {
    const minutes = readAudioHeader(longformPath(c.audio))!.duration / 60;
    for (const v of versions) {
      const { result, seconds, cpuSeconds } = await timed(v.runCli, cliArgs(c));
      const r = compareWithReference(c, result);
      console.log(`${c.reference} ${v.name}: ${r.equal}/${r.total} segments equal (ours ${r.ours}), language ${r.language}, ` +
        `${seconds.toFixed(1)} s = ${(seconds / minutes).toFixed(2)} s per minute of audio ` +
        `(CPU ${(cpuSeconds / minutes).toFixed(2)} s per minute); ` +
        `max |d avg_logprob| ${r.maxLogprobDiff.toFixed(4)}, |d no_speech_prob| ${r.maxNoSpeechDiff.toFixed(4)}` +
        (r.firstDifference ? `\n  first difference: ${r.firstDifference.slice(0, 400)}` : ''));
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
