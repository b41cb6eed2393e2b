import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sharedDir, loadReferenceTranscripts } from '../tools/shared';
import { WhisperTokenizer } from '../src/tokenizer/whisper';
import { LANGUAGES } from '../src/tokenizer/languages';
import { labelsFor } from '../src/data/prepare';

interface Transcript { id: string; lang: string; hypothesis: string; prompt: number[]; tokens: number[] }

const MODEL = () => sharedDir('models/whisper-tiny');

function transcripts(): Transcript[] {
  return loadReferenceTranscripts();
}

/**
 * An English-only (.en) checkpoint has the GPT-2 vocabulary (one BPE token fewer than the
 * multilingual one), so all added tokens sit one id lower. Built from the shared tokenizer.json.
 */
function writeEnglishOnlyVariant(dir: string): void {
  const tj = JSON.parse(fs.readFileSync(path.join(MODEL(), 'tokenizer.json'), 'utf8'));
  const dropped = 50256;
  for (const [k, v] of Object.entries(tj.model.vocab)) if (v === dropped) delete tj.model.vocab[k];
  tj.added_tokens = tj.added_tokens.map((t: any) => ({ ...t, id: t.id - 1 }));
  tj.post_processor = null;
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ is_multilingual: false }));
}

describe('tokenizer: WhisperTokenizer (whisper-tiny, multilingual)', () => {
  let tok: WhisperTokenizer;
  before(async () => {
    tok = await WhisperTokenizer.fromPretrained(MODEL());
  });

  it('special ids come from the vocabulary and match the reference prompt', () => {
    assert.equal(tok.isMultilingual, true);
    assert.equal(tok.eot, 50257);
    assert.equal(tok.sot, 50258);
    assert.equal(tok.translate, 50358);
    assert.equal(tok.transcribe, 50359);
    assert.equal(tok.sotLm, 50360);
    assert.equal(tok.sotPrev, 50361);
    assert.equal(tok.noSpeech, 50362);
    assert.equal(tok.noTimestamps, 50363);
    assert.equal(tok.timestampBegin, 50364);
    assert.equal(tok.vocabSize, 51865);
    assert.deepEqual(tok.prefixTokens({ language: 'en', task: 'transcribe' }), [50258, 50259, 50359, 50363]);
    const langs = new Map(transcripts().map((t) => [t.lang, t.prompt]));
    assert.ok(langs.size >= 4);
    for (const [lang, prompt] of langs) assert.deepEqual(tok.prefixTokens({ language: lang }), prompt, lang);
    assert.deepEqual(tok.prefixTokens({ language: 'french', task: 'translate', timestamps: true }), [50258, 50265, 50358]);
    assert.deepEqual(tok.prefixTokens({}), [50258, 50359, 50363]);
  });

  it('languages: the 99 vocabulary language tokens, in Whisper order, by code, name or alias', () => {
    assert.equal(tok.languages.length, 99);
    assert.deepEqual(tok.languages.map((l) => l.code), LANGUAGES.slice(0, 99).map(([c]) => c));
    tok.languages.forEach((l, i) => assert.equal(l.id, 50259 + i));
    assert.deepEqual(tok.languages[6], { code: 'fr', name: 'french', id: 50265 });
    assert.equal(tok.languageToken('fr'), 50265);
    assert.equal(tok.languageToken('French'), 50265);
    assert.equal(tok.languageToken('breton'), 50309);
    assert.equal(tok.languageToken('vi'), tok.languageToken('vietnamese'));
    assert.equal(tok.languageToken('castilian'), tok.languageToken('es'));
    assert.equal(tok.languageCodeOf(50309), 'br');
    assert.equal(tok.languageNameOf(50259), 'english');
    assert.throws(() => tok.languageToken('klingon'), /Unknown language 'klingon'\. Valid codes: en, zh, de, .*, su /);
    assert.throws(() => tok.languageToken('yue'), /Unknown language 'yue'/); // not in tiny's vocabulary
    assert.throws(() => tok.languageCodeOf(440), /440 is not a language token/);
  });

  it('decode(tokens) reproduces every reference hypothesis of transcripts.jsonl', () => {
    const all = transcripts();
    assert.ok(all.length > 300);
    for (const t of all) {
      // Whisper returns decode(tokens).strip(); the BPE text keeps its leading space.
      const text = tok.decode(t.tokens);
      assert.equal(text.trim(), t.hypothesis, t.id);
    }
  });

  it('encode/decode round trip for English, French, Vietnamese, Breton text', () => {
    const all = transcripts();
    for (const lang of ['en', 'fr', 'vi', 'br']) {
      for (const t of all.filter((x) => x.lang === lang).slice(0, 10)) {
        const text = ` ${t.hypothesis}`;
        const ids = tok.encode(text);
        assert.ok(ids.every((id) => id < tok.eot), 'no special ids from plain text');
        assert.equal(tok.decode(ids), text, t.id);
      }
    }
    // jfk: the model emitted the canonical BPE split, so encode gives back its exact tokens.
    const jfk = all.find((t) => t.id === 'jfk' || t.id.includes('jfk'));
    assert.ok(jfk, 'jfk line in transcripts.jsonl');
    assert.deepEqual(tok.encode(tok.decode(jfk.tokens)), jfk.tokens);
    assert.deepEqual(tok.encode(' The the'), [440, 264]);
    assert.deepEqual(tok.encode(''), []);
  });

  it('text that looks like a control token is encoded as plain text, in labels too', () => {
    // Every added token (specials, 99 languages, 1501 timestamps) written in a transcript.
    const added = (JSON.parse(fs.readFileSync(path.join(MODEL(), 'tokenizer.json'), 'utf8')).added_tokens as { content: string }[])
      .map((t) => t.content);
    assert.equal(added.length, 1608);
    for (const text of added) {
      const ids = tok.encode(text);
      assert.ok(ids.length > 1 && ids.every((id) => id < tok.eot), `${text} -> ${ids}`);
      assert.equal(tok.decode(ids), text);
    }
    // The BPE pieces of "<|endoftext|>" are those of its parts (the pre-tokenizer splits there).
    assert.deepEqual(tok.encode('<|endoftext|>'), [...tok.encode('<|'), ...tok.encode('endoftext'), ...tok.encode('|>')]);
    // A label keeps exactly one <|endoftext|> (its end) and the prompt's own language.
    const text = ' I typed <|endoftext|> and <|fr|><|translate|> then <|0.00|> here.';
    const labels = labelsFor(text, tok, { language: 'en' });
    const prefix = tok.prefixTokens({ language: 'en' });
    assert.deepEqual(labels.slice(0, prefix.length), prefix);
    assert.deepEqual(labels.filter((id) => id >= tok.eot), [...prefix, tok.eot]);
    assert.equal(labels[labels.length - 1], tok.eot);
    assert.equal(tok.decode(labels.slice(prefix.length, -1)), text);
  });

  it('skipSpecialTokens keeps only the text; timestamps render as <|1.00|>', () => {
    const ids = [...tok.prefixTokens({ language: 'en', timestamps: true }), tok.timestampToken(1),
      440, 264, tok.timestampToken(2.5), tok.eot];
    assert.equal(tok.timestampToken(1), 50414);
    assert.equal(tok.timestampToken(0), tok.timestampBegin);
    assert.equal(tok.timestampToken(30), 51864);
    assert.equal(tok.timestampSeconds(50414), 1);
    assert.equal(tok.decode(ids), '<|startoftranscript|><|en|><|transcribe|><|1.00|> The the<|2.50|><|endoftext|>');
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), ' The the');
    assert.equal(tok.decodeWithTimestamps(ids), '<|1.00|> The the<|2.50|>');
    assert.equal(tok.decode([]), '');
    assert.throws(() => tok.timestampToken(31), /timestamp 31 s is outside 0\.\.30\.00 s/);
    assert.throws(() => tok.decode([440, 99999]), /token id 99999 is outside 0\.\.51864/);
  });
});

describe('tokenizer: English-only (.en) vocabulary', () => {
  let dir: string;
  let tok: WhisperTokenizer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-en-'));
    writeEnglishOnlyVariant(dir);
    tok = await WhisperTokenizer.fromPretrained(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('derives the shifted ids of whisper tiny.en from the vocabulary', () => {
    assert.equal(tok.isMultilingual, false);
    // OpenAI whisper's English-only ids (tiktoken "gpt2" + specials).
    assert.equal(tok.eot, 50256);
    assert.equal(tok.sot, 50257);
    assert.equal(tok.translate, 50357);
    assert.equal(tok.transcribe, 50358);
    assert.equal(tok.sotLm, 50359);
    assert.equal(tok.sotPrev, 50360);
    assert.equal(tok.noSpeech, 50361);
    assert.equal(tok.noTimestamps, 50362);
    assert.equal(tok.timestampBegin, 50363);
    assert.equal(tok.vocabSize, 51864);
    assert.deepEqual(tok.languages, []);
  });

  it('prompt has no language or task token; other languages and translate are refused', () => {
    assert.deepEqual(tok.prefixTokens({}), [50257, 50362]);
    assert.deepEqual(tok.prefixTokens({ language: 'en' }), [50257, 50362]);
    assert.deepEqual(tok.prefixTokens({ timestamps: true }), [50257]);
    assert.throws(() => tok.prefixTokens({ language: 'fr' }), /English-only model cannot take language 'fr'/);
    assert.throws(() => tok.prefixTokens({ task: 'translate' }), /English-only model cannot translate/);
    assert.throws(() => tok.languageToken('en'), /English-only model has no language tokens/);
  });

  it('text and timestamps still round-trip', () => {
    const ids = tok.encode(' ask not what your country can do for you');
    assert.equal(tok.decode(ids), ' ask not what your country can do for you');
    assert.equal(tok.decodeWithTimestamps([tok.sot, tok.timestampToken(1), ...ids, tok.eot]),
      '<|1.00|> ask not what your country can do for you');
    assert.equal(tok.timestampToken(1), 50413);
  });

  it('a folder without tokenizer.json gives an error naming the file', async () => {
    await assert.rejects(WhisperTokenizer.fromPretrained(path.join(dir, 'nope')), /nope\/tokenizer\.json: file not found/);
  });
});
