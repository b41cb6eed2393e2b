/**
 * Greedy parity with OpenAI's PyTorch Whisper on every clip of reference/whisper-tiny/transcripts.jsonl
 * (401 clips): same audio (loadAudio), log-Mel (WhisperFeatureExtractor), prompt (the clip's
 * language), and the token ids must be identical.
 *
 *   npx tsx bench/parity-all.ts [--audio ffmpeg|js] [--limit N] [--batch B] [--filter WORD] [--shard I/N]
 *
 * --audio ffmpeg (default) decodes as the reference did (loadAudioFfmpeg), so only the model is
 * compared; --audio js uses loadAudio (audio-decode + libsamplerate), whose resampling differs
 * slightly from ffmpeg's on the 8 kHz and 48 kHz clips.
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadAudio, loadAudioFfmpeg } from '../src/audio/decode';
import { initBackend } from '../src/backend';
import { loadWhisper } from '../src/model/pipeline';
import { sharedDir, loadReferenceTranscripts, ReferenceTranscript, REFERENCE_MAX_NEW_TOKENS } from '../tools/shared';
import { parseFlags } from '../apps/args';

const text = { type: 'string' } as const;
const { values: flags } = parseFlags(process.argv.slice(2), { filter: text, shard: text, limit: text, batch: text, audio: text });
function arg(name: keyof typeof flags, def?: string): string | undefined {
  return flags[name] ?? def;
}

async function main() {
  await initBackend();
  const rows: ReferenceTranscript[] = loadReferenceTranscripts();
  const filter = arg('filter');
  const [shard, nShards] = (arg('shard', '0/1') as string).split('/').map(Number);
  const selected = rows.filter((r) => !filter || r.path.includes(filter)).slice(0, Number(arg('limit', '100000')))
    .filter((_, i) => i % nShards === shard);
  const batch = Number(arg('batch', '4'));
  const audioMode = arg('audio', 'ffmpeg');
  if (audioMode !== 'ffmpeg' && audioMode !== 'js') throw new Error(`--audio must be ffmpeg or js, got ${audioMode}`);
  const load = audioMode === 'ffmpeg' ? loadAudioFfmpeg : loadAudio;
  const pipe = await loadWhisper(sharedDir('models', 'whisper-tiny'));
  const langOf = new Map(pipe.model.specialTokens.languages.map((l) => [l.id, l.code]));
  // Group by prompt so each batch shares one language.
  const groups = new Map<string, ReferenceTranscript[]>();
  for (const r of selected) groups.set(r.prompt.join(','), [...(groups.get(r.prompt.join(',')) ?? []), r]);
  let same = 0;
  let done = 0;
  const diffs: string[] = [];
  const t0 = performance.now();
  for (const [, group] of groups) {
    for (let i = 0; i < group.length; i += batch) {
      const part = group.slice(i, i + batch);
      const audios = await Promise.all(part.map((r) => load(sharedDir('datasets', r.path))));
      const features = pipe.featureExtractor.call(audios);
      const out = await pipe.model.generate(features, { language: langOf.get(part[0].prompt[1]), maxNewTokens: REFERENCE_MAX_NEW_TOKENS });
      features.dispose();
      part.forEach((r, j) => {
        const got = out.sequences[j];
        const ok = got.length === r.tokens.length && got.every((t, k) => t === r.tokens[k]);
        done++;
        if (ok) same++;
        else {
          const k = got.findIndex((t, q) => t !== r.tokens[q]);
          const line = `${r.id} (${r.lang}): first difference at token ${k < 0 ? Math.min(got.length, r.tokens.length) : k}\n` +
            `  ref ${JSON.stringify(r.tokens)}\n  got ${JSON.stringify(got)}`;
          diffs.push(line);
          console.log(`DIFF ${line}`);
        }
      });
      console.log(`${done}/${selected.length} identical ${same} (${((performance.now() - t0) / 1000 / done).toFixed(2)} s/clip)`);
    }
  }
  const pct = (100 * same) / selected.length;
  console.log(`\nRESULT identical ${same}/${selected.length} = ${pct.toFixed(2)}%  (audio: ${audioMode}, ${path.basename(__filename)}, ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  if (diffs.length) console.log(`differing clips:\n${diffs.join('\n')}`);
  process.exit(pct >= 98 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
