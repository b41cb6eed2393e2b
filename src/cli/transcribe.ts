/**
 * npm run transcribe -- AUDIO... [--model ID|DIR] [--language xx] [--task transcribe|translate] [--fast] [--json]
 *
 * Plain text, one line per file by default; --json prints one JSON object per line:
 * {"file", "text", "tokens", "seconds", "language"}.
 */
import * as path from 'path';
import { loadAudio } from '../audio/decode';
import { describeBackend, initBackend } from '../backend';
import { loadWhisper, transcribe } from '../model/pipeline';
import { sharedDir } from '../shared';

const USAGE = 'usage: npm run transcribe -- AUDIO... [--model ID|DIR] [--language xx] ' +
  '[--task transcribe|translate] [--max-new-tokens N] [--fast] [--json]';

interface Args {
  files: string[];
  model?: string;
  language?: string;
  task: 'transcribe' | 'translate';
  json: boolean;
  maxNewTokens?: number;
  /** Opt-in fast mode (trimPadding): faster on short clips, not reference-identical. */
  fast: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { files: [], task: 'transcribe', json: false, fast: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--model') a.model = value();
    else if (arg === '--language') a.language = value();
    else if (arg === '--task') {
      const t = value();
      if (t !== 'transcribe' && t !== 'translate') throw new Error(`--task must be transcribe or translate, got '${t}'`);
      a.task = t;
    } else if (arg === '--max-new-tokens') a.maxNewTokens = Number(value());
    else if (arg === '--json') a.json = true;
    else if (arg === '--fast') a.fast = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else a.files.push(arg);
  }
  if (!a.files.length) throw new Error(`no audio file given\n${USAGE}`);
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend();
  if (!args.json) console.error(describeBackend(backend));
  const pipe = await loadWhisper(args.model ?? sharedDir('models', 'whisper-tiny'));
  for (const file of args.files) {
    const audio = await loadAudio(file, pipe.featureExtractor.samplingRate);
    const [r] = await transcribe(pipe, audio, {
      language: args.language, task: args.task, maxNewTokens: args.maxNewTokens, trimPadding: args.fast,
    });
    if (args.json) {
      console.log(JSON.stringify({ file, text: r.text, tokens: r.tokens, seconds: Number(r.seconds.toFixed(3)), language: r.language }));
    } else {
      console.log(args.files.length > 1 ? `${path.basename(file)}: ${r.text.trim()}` : r.text.trim());
    }
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
