/**
 * Long recordings exactly as openai's transcribe() (issue 22): the CLI's JSON segments against
 * openai's on shared/reference/whisper-tiny/longform (same seeks, tokens and times; log-probs
 * within PROB_TOLERANCE), the whole-recording log-Mel its windows are sliced from, the streamed
 * silence gate, and --word-timestamps on the same features.
 */
import { strict as assert } from 'assert';
import { loadAudio } from '../src/audio/decode';
import { isSilent, SilenceGate } from '../src/audio/vad';
import { runCli } from '../apps/cli/transcribe';
import { getLogMelComputer } from '../src/features/logmelComputer';
import { RecordingLogMel } from '../src/features/recordingLogMel';
import { cliArgs, compareWithReference, LONGFORM_CASES, longformPath, OurSegment, PROB_TOLERANCE } from './helpers/longformParity';

type CliResult = { language: string; segments: (OurSegment & { text: string; words?: { start: number; end: number }[] })[] };
const runs = new Map<string, Promise<CliResult>>();

/** Runs the CLI in this process; its JSON result (once per argument list: the tests share runs). */
function cliJson(args: string[]): Promise<CliResult> {
  const key = args.join('\0');
  if (!runs.has(key)) runs.set(key, runCliJson(args));
  return runs.get(key)!;
}

async function runCliJson(args: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  assert.equal(code, 0, err);
  return JSON.parse(out);
}

/** Quiet noise with a loud burst at 1.25-1.63 s: loud, quiet and mixed frames near chunk edges. */
function testSignal(n: number): Float32Array {
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  return Float32Array.from({ length: n }, (_, i) => (i > 20000 && i < 26000 ? 0.5 : 0.01) * rand());
}

describe('whole-recording log-Mel (openai log_mel_spectrogram(audio, padding=N_SAMPLES))', () => {
  it('equals the log-Mel of the zero-padded recording, sliced, whatever the chunks', () => {
    const audio = testSignal(3 * 16000 + 123);
    const padded = new Float32Array(audio.length + 480000);
    padded.set(audio);
    const whole = getLogMelComputer(80, 16000, 400, 160).compute(padded);
    const total = whole.length / 80;
    const mel = new RecordingLogMel();
    for (let p = 0, k = 1; p < audio.length; p += 997 * k++) mel.push(audio.subarray(p, p + 997 * k));
    mel.end();
    assert.equal(mel.contentFrames, Math.floor(audio.length / 160));
    for (const [seek, size] of [[0, 300], [151, 149], [mel.contentFrames - 50, 50]]) {
      const w = mel.window(seek, size, 300);
      for (let m = 0; m < 80; m++) {
        for (let t = 0; t < 300; t++) {
          // Beyond `size` the window is padded with 0 (pad_or_trim of the normalized log-Mel).
          const want = t < size ? whole[m * total + seek + t] : 0;
          assert.ok(Math.abs(w[m * 300 + t] - want) < 1e-6, `mel ${m}, frame ${seek + t}: ${w[m * 300 + t]} vs ${want}`);
        }
      }
    }
    assert.throws(() => mel.window(mel.contentFrames, 300, 300), /outside the \d+ computed/);
  });
});

describe('streamed silence gate (SilenceGate)', () => {
  it('decides like isSilent on the window samples', () => {
    const audio = testSignal(2 * 16000);
    const gate = new SilenceGate({ thresholdDb: -30 }, 160);
    for (let p = 0; p < audio.length; p += 1234) gate.push(audio.subarray(p, p + 1234));
    for (const [a, b] of [[0, 16000], [16000, 32000], [160 * 140, 160 * 160], [160 * 170, 160 * 200]]) {
      assert.equal(gate.isSilent(a, b), isSilent(audio.subarray(a, b), { thresholdDb: -30 }), `[${a}, ${b})`);
    }
    assert.ok(gate.isSilent(160 * 170, 160 * 200) && !gate.isSilent(16000, 32000));
  });
});

describe('long-form parity with openai transcribe() (real whisper-tiny, the CLI)', function () {
  for (const c of LONGFORM_CASES) {
    it(`${c.audio} ${c.language ? `--language ${c.language}` : '(language detected)'}: every segment as ${c.reference}`, async () => {
      const r = compareWithReference(c, await cliJson(cliArgs(c)));
      assert.equal(r.firstDifference, '');
      assert.equal(r.equal, r.total);
      assert.ok(r.maxLogprobDiff < PROB_TOLERANCE && r.maxNoSpeechDiff < PROB_TOLERANCE,
        `avg_logprob differs by ${r.maxLogprobDiff}, no_speech_prob by ${r.maxNoSpeechDiff}`);
    });
  }

  it('--word-timestamps: windows at the same seek decode the same tokens (same features)', async () => {
    // openai moves a segment's start and end to its first and last word (timing.py
    // add_word_timestamps), up to 2 s here, and seeks to the last word's end after an unfinished
    // segment, so later windows start elsewhere; where a window starts at the same frame, its
    // features, tokens and timestamp tokens must be the same.
    const args = cliArgs(LONGFORM_CASES[0]);
    const plain = await cliJson(args);
    const timed = await cliJson([...args, '--word-timestamps']);
    const bySeek = (segs: OurSegment[]) => segs.reduce((m, s) => m.set(s.seek, [...(m.get(s.seek) ?? []), ...s.tokens]), new Map<number, number[]>());
    const want = bySeek(plain.segments);
    const shared = [...bySeek(timed.segments)].filter(([seek]) => want.has(seek));
    for (const [seek, tokens] of shared) assert.deepEqual(tokens, want.get(seek), `window at frame ${seek}`);
    assert.ok(shared.length >= 2, `only ${shared.length} windows start at the same frame`);
    for (const s of timed.segments) {
      const w = s.words ?? [];
      assert.ok(w.length && w.every((x, i) => x.start <= x.end && (i === 0 || x.start >= w[i - 1].start)), `words of '${s.text}'`);
      assert.ok(w[0].start >= s.seek / 100 - 1e-9 && w[w.length - 1].end <= s.seek / 100 + 30 + 1e-9, `'${s.text}' outside its window`);
    }
  });
});
