/**
 * npm run transcribe -- AUDIO... [options]: files of any length, like openai's `whisper` command
 * and whisper.cpp's `main` (run with --help for the options).
 *
 * Every file is transcribed even when another one fails: a failure is reported on stderr with the
 * file's name and the reason, and the exit code is 1 at the end. Without --output-dir and with one
 * format, transcripts go to stdout (a `==> file <==` line before each when there are several);
 * otherwise each file gets NAME.FORMAT in the output folder (NAME.ADAPTER.FORMAT per adapter).
 * Files over 30 s show a progress line on stderr; a detected language is printed there too.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readAudioHeader } from '../../src/audio/header';
import { openAudioStream } from '../../src/audio/stream';
import { describeBackend, getMatmulPrecision, initBackend, setMatmulPrecision } from '../../src/backend';
import { PeftModel } from '../../src/lora/peft';
import { loadWhisper, WhisperPipeline } from '../../src/model/pipeline';
import { AudioSource, streamSource, transcribe, TranscribeOptions, TranscriptionResult } from '../../src/model/transcribe';
import { sharedDir } from '../../tools/shared';
import { languageName } from '../../src/tokenizer/languages';
import { formatResult, OUTPUT_FORMATS, OutputFormat, outputFileName } from './writers';
import { choiceFlag, numberFlag, parseFlags, positiveIntFlag, UsageError } from '../args';

export const USAGE = `usage: npm run transcribe -- AUDIO... [options]

  --model ID|DIR            checkpoint (Hub id or folder; default the shared whisper-tiny)
  --adapter [NAME=]DIR      PEFT LoRA adapter; repeat for several (each file is transcribed with each)
  --language CODE|NAME      language of the audio (default: detected from the first 30 s, printed)
  --task transcribe|translate
  --beam-size N             beam search with N beams (default: greedy)
  --best-of N               samples per fallback temperature above 0 (default 5)
  --temperature T           first temperature (default 0)
  --temperature-increment-on-fallback T   next temperatures when a window fails (0.2; 0: none).
                            Default: fallback for files over 30 s only; clips up to 30 s decode once,
                            exactly like the reference (give either option to use it for them too)
  --compression-ratio-threshold X  --logprob-threshold X  --no-speech-threshold X   (openai's defaults)
  --condition-on-previous-text true|false   feed each window the text before it (default true)
  --initial-prompt TEXT     text that precedes the first window
  --word-timestamps         per-word times (json: words; srt/vtt: cue times from the words)
  --output-format txt|json|srt|vtt|tsv|all   (default txt)
  --output-dir DIR          write NAME.FORMAT files there (default: stdout for one format)
  --fast                    clips up to 30 s: encode the clip, not 30 s (faster, not reference-identical)
  --batch-size N            clips up to 30 s decoded together (default 1)
  --assistant-model ID|DIR  speculative decoding with this smaller model (same tokens as greedy)
  --max-new-tokens N        tokens per 30 s window (default 224)
  --bf16                    bf16 matrix products (faster, not reference-identical; needs the native
                            oneDNN path on a CPU with AVX512_BF16 or AMX-BF16)
  --vad                     long files: skip windows with no frame over -45 dBFS (default: decode
                            every window, as openai's whisper; --no-vad is that default)`;

interface Args {
  files: string[];
  model?: string;
  adapters: { name: string; dir: string }[];
  formats: OutputFormat[];
  outputDir?: string;
  assistantModel?: string;
  /** --bf16: bf16 matrix products (setMatmulPrecision) for this run. */
  bf16: boolean;
  options: TranscribeOptions;
  /** --temperature and --temperature-increment-on-fallback, when given. */
  temperature?: number;
  increment?: number;
}

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;
const FLAGS = {
  model: text, adapter: { type: 'string', multiple: true }, language: text, task: text, 'beam-size': text, 'best-of': text,
  temperature: text, 'temperature-increment-on-fallback': text, 'compression-ratio-threshold': text, 'logprob-threshold': text,
  'no-speech-threshold': text, 'condition-on-previous-text': text, 'initial-prompt': text, 'word-timestamps': flag,
  'output-format': text, 'output-dir': text, fast: flag, 'batch-size': text, 'assistant-model': text, 'max-new-tokens': text,
  vad: flag, 'no-vad': flag, bf16: flag, help: { type: 'boolean', short: 'h' },
} as const;

function parseCommandLine(argv: string[]): Args {
  const { values: v, positionals } = parseFlags(argv, FLAGS, USAGE);
  if (v.help) throw new HelpRequested();
  // A threshold may be 'none' (openai's CLI: never fail on it).
  const threshold = (name: keyof typeof v) => (v[name] === 'none' ? null : numberFlag(name, v[name] as string | undefined));
  const atLeastZero = (name: 'temperature' | 'temperature-increment-on-fallback') => numberFlag(name, v[name], (x) => x >= 0, 'a number >= 0');
  const conditioned = choiceFlag('condition-on-previous-text', v['condition-on-previous-text'], ['true', 'false'] as const);
  const format = choiceFlag('output-format', v['output-format'], [...OUTPUT_FORMATS, 'all'] as const);
  const adapters: Args['adapters'] = [];
  for (const value of v.adapter ?? []) {
    const eq = value.indexOf('=');
    const dir = eq > 0 ? value.slice(eq + 1) : value;
    const name = eq > 0 ? value.slice(0, eq) : path.basename(path.resolve(dir));
    if (adapters.some((x) => x.name === name)) throw new UsageError(`--adapter: two adapters named '${name}' (name them: --adapter NAME=DIR)`);
    adapters.push({ name, dir });
  }
  const options: TranscribeOptions = {
    language: v.language,
    task: choiceFlag('task', v.task, ['transcribe', 'translate'] as const),
    numBeams: positiveIntFlag('beam-size', v['beam-size']),
    bestOf: positiveIntFlag('best-of', v['best-of']),
    compressionRatioThreshold: threshold('compression-ratio-threshold'),
    logprobThreshold: threshold('logprob-threshold'),
    noSpeechThreshold: threshold('no-speech-threshold'),
    conditionOnPreviousText: conditioned === undefined ? undefined : conditioned === 'true',
    initialPrompt: v['initial-prompt'],
    wordTimestamps: v['word-timestamps'],
    trimPadding: v.fast,
    batchSize: positiveIntFlag('batch-size', v['batch-size']),
    maxNewTokens: positiveIntFlag('max-new-tokens', v['max-new-tokens']),
    vad: v['no-vad'] ? false : v.vad ? {} : undefined,
  };
  // Unset options stay absent, so transcribe's defaults apply.
  for (const k of Object.keys(options) as (keyof TranscribeOptions)[]) if (options[k] === undefined) delete options[k];
  if (!positionals.length) throw new UsageError(`no audio file given\n${USAGE}`);
  const formats = format === undefined ? ['txt' as const] : format === 'all' ? [...OUTPUT_FORMATS] : [format];
  return {
    files: positionals, model: v.model, adapters, formats, assistantModel: v['assistant-model'], bf16: v.bf16 ?? false, options,
    outputDir: v['output-dir'] ?? (formats.length > 1 ? '.' : undefined),
    temperature: atLeastZero('temperature'), increment: atLeastZero('temperature-increment-on-fallback'),
  };
}

class HelpRequested extends Error {}

/** The fallback temperatures: T, T + increment, ... up to 1 (openai's CLI); undefined: transcribe's defaults. */
function temperatureList(given: number | undefined, inc: number | undefined): number | number[] | undefined {
  if (given === undefined && inc === undefined) return undefined;
  const t = given ?? 0;
  const increment = inc ?? 0.2;
  if (increment <= 0 || t >= 1) return t;
  const out: number[] = [];
  for (let x = t; x <= 1 + 1e-6; x += increment) out.push(Math.round(x * 1e6) / 1e6);
  return out;
}

export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/**
 * A file as samples by range, decoded as it is read (audio/stream.ts): a long recording never sits
 * in memory whole. The header's declared length, when it has one, feeds the progress line.
 */
function openAudio(file: string, sampleRate: number): AudioSource {
  let length: number | undefined;
  try {
    const h = readAudioHeader(file);
    if (h) length = Math.round(h.duration * sampleRate);
  } catch {
    // unreadable here: the stream names the problem
  }
  return streamSource(openAudioStream(file, { sampleRate }), length);
}

/** Runs the command; returns the exit code (0 when every file was transcribed). */
export async function runCli(argv: string[], io: CliIO = {
  stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s),
}): Promise<number> {
  let args: Args;
  try {
    args = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.stdout(USAGE + '\n');
      return 0;
    }
    throw e;
  }
  const backend = await initBackend();
  // runCli may run again in this process (tests, the demo): the precision comes back after.
  const precision = getMatmulPrecision();
  if (args.bf16) setMatmulPrecision('bfloat16'); // throws, saying why, where bf16 cannot run
  try {
    io.stderr(describeBackend(backend) + '\n');
    return await transcribeAll(args, io);
  } finally {
    setMatmulPrecision(precision);
  }
}

async function transcribeAll(args: Args, io: CliIO): Promise<number> {
  const pipe = await loadWhisper(args.model ?? sharedDir('models', 'whisper-tiny'));
  const opts: TranscribeOptions = { ...args.options, temperature: temperatureList(args.temperature, args.increment) };
  if (args.assistantModel) opts.assistantModel = (await loadWhisper(args.assistantModel)).model;
  // Adapters attach to the model's layers; one is active at a time.
  let peft: PeftModel | undefined;
  try {
    for (const { name, dir } of args.adapters) {
      if (!peft) peft = PeftModel.fromPretrained(pipe.model, path.resolve(dir), name);
      else peft.loadAdapter(path.resolve(dir), name);
    }
    return await transcribeFiles(args, pipe, opts, peft, io);
  } finally {
    peft?.dispose(); // the model is cached per process: leave it without adapters
  }
}

/** Transcribes every file (with every adapter); returns the exit code. */
async function transcribeFiles(args: Args, pipe: WhisperPipeline, opts: TranscribeOptions, peft: PeftModel | undefined,
  io: CliIO): Promise<number> {
  const variants = args.adapters.length ? args.adapters.map((x) => x.name) : [undefined];
  if (args.outputDir) fs.mkdirSync(args.outputDir, { recursive: true });

  const failed: string[] = [];
  const report = (file: string, e: unknown) => {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    io.stderr(`${file}: error: ${msg.startsWith(file) ? msg.slice(file.length).replace(/^:\s*/, '') : msg}\n`);
    failed.push(file);
  };
  const emit = (file: string, variant: string | undefined, r: TranscriptionResult) => {
    if (!args.options.language && r.language && !r.warning) io.stderr(`${file}: language ${languageName(r.language) ?? r.language}\n`);
    if (r.warning) io.stderr(`${file}: warning: ${r.warning}\n`);
    for (const format of args.formats) {
      const text = format === 'json'
        ? JSON.stringify({ file, ...(variant ? { adapter: variant } : {}), ...JSON.parse(formatResult(r, 'json')), seconds: Number((r.seconds ?? 0).toFixed(3)) }) + '\n'
        : formatResult(r, format);
      if (args.outputDir) {
        const { name, sanitized } = outputFileName(file, variant, format);
        if (sanitized) io.stderr(`${JSON.stringify(file)}: control characters in the name replaced by '_': writing ${name}\n`);
        fs.writeFileSync(path.join(args.outputDir, name), text);
      } else {
        if (format !== 'json' && (args.files.length > 1 || variants.length > 1)) io.stdout(`==> ${file}${variant ? ` (${variant})` : ''} <==\n`);
        io.stdout(text);
      }
    }
  };

  // Clips of up to 30 s are read `batchSize` at a time and decoded together; longer files one by
  // one, streamed (opened again for each adapter).
  const rate = pipe.featureExtractor.samplingRate;
  const limit = pipe.featureExtractor.nSamples;
  const batchSize = opts.batchSize ?? 1;
  for (let i = 0; i < args.files.length; i += batchSize) {
    const short: { file: string; clip: Float32Array }[] = [];
    const long: { file: string; source: AudioSource }[] = [];
    for (const file of args.files.slice(i, i + batchSize)) {
      try {
        const source = openAudio(file, rate);
        const head = await source.read(0, limit + 1);
        if (head.length <= limit) short.push({ file, clip: head.slice() });
        else long.push({ file, source });
      } catch (e) {
        report(file, e);
      }
    }
    for (const [v, variant] of variants.entries()) {
      if (variant) peft!.setAdapter(variant);
      if (short.length) {
        try {
          const res = await transcribe(pipe, short.map((x) => x.clip), opts);
          short.forEach((x, k) => emit(x.file, variant, res[k]));
        } catch (e) {
          short.forEach((x) => report(x.file, e));
        }
      }
      for (const l of long) {
        try {
          const source = v === 0 ? l.source : openAudio(l.file, rate);
          const name = `${l.file}${variant ? ` (${variant})` : ''}`;
          const [r] = await transcribe(pipe, source, {
            ...opts,
            onProgress: (done, total) => io.stderr(Number.isFinite(total)
              ? `${name}: ${done.toFixed(1)}/${total.toFixed(1)} s (${Math.round((100 * done) / total)}%)\n`
              : `${name}: ${done.toFixed(1)} s\n`),
          });
          emit(l.file, variant, r);
        } catch (e) {
          report(l.file, e);
        }
      }
    }
  }
  const ok = args.files.length - new Set(failed).size;
  if (failed.length) io.stderr(`${ok} of ${args.files.length} files transcribed; failed: ${[...new Set(failed)].join(', ')}\n`);
  return failed.length ? 1 : 0;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  });
}
