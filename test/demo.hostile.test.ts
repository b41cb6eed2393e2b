/**
 * The demo server against hostile and careless clients (issue 15): every request gets an HTTP
 * answer and the server stays up (a server in a child process, so a crash fails the test instead
 * of ending the run); decode bombs are refused with 413 in bounded memory; and with the real model
 * in its worker thread, /api/info answers at once during a long transcription and a full queue
 * answers 503 + Retry-After.
 */
import { strict as assert } from 'assert';
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as readline from 'readline';
import { loadAudio } from '../src/audio/decode';
import { encodeWav } from '../src/audio/wav';
import { startDemo } from '../apps/demo/server';
import { PROJECT_ROOT, sharedDir } from '../tools/shared';
import { silentFlac, wavDeclaring } from './helpers/bombs';

/**
 * Sends raw bytes and returns whatever comes back until the server closes (requests say
 * Connection: close; broken ones are closed by the parser), or 10 s. No half-close: Node's server
 * drops a request whose client has ended its side.
 */
function raw(port: number, request: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = () => resolve(data);
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('close', done);
    sock.on('error', done);
    sock.setTimeout(10_000, () => sock.destroy());
    sock.write(request);
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);

describe('demo server: malformed requests, bombs (child process, stub model)', function () {
  let child: ChildProcessWithoutNullStreams;
  let lines: readline.Interface;
  let port = 0;
  let host = '';
  const next = () => new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`the demo server exited (code ${code})`)));
  });

  before(async () => {
    child = spawn(process.execPath, ['-r', 'tsx/cjs', path.join(__dirname, 'helpers', 'demoServer.ts')], { cwd: PROJECT_ROOT });
    child.stderr.on('data', (d) => process.stderr.write(`      [demo] ${d}`));
    lines = readline.createInterface({ input: child.stdout });
    port = (await next()).port as number;
    host = `127.0.0.1:${port}`;
  });

  after(() => child?.kill());

  const wav = encodeWav(new Float32Array(16000).map((_, i) => 0.3 * Math.sin(i / 7)), 16000);
  const post = (headers: string, body: Buffer | string, target = '/api/transcribe') => {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
    return Buffer.concat([Buffer.from(`POST ${target} HTTP/1.1\r\nHost: ${'HOST'}\r\nConnection: close\r\n${headers}` +
      `Content-Length: ${b.length}\r\n\r\n`, 'latin1'), b]);
  };
  const multipart = (boundary: string, parts: string[]) => `${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n`;
  const filePart = (name: string, bytes: Buffer) =>
    `Content-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: audio/wav\r\n\r\n${bytes.toString('latin1')}`;

  it('every malformed request gets an HTTP answer, and the server stays up', async () => {
    const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n${extra}\r\n`;
    const cases: Array<[string, string | Buffer, number]> = [
      ['GET // (crashed the server)', get('//'), 404],
      ['GET //api/info', get('//api/info'), 404],
      ['bad percent-encoding', get('/%zz%'), 404],
      ['bad query encoding', get('/?variant=%%%'), 200],
      ['absolute-form target', get('http://evil.example/'), 400],
      ['asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n', 400],
      ['unknown method', 'BREW /pot HTTP/1.1\r\nHost: HOST\r\n\r\n', 400],
      ['DELETE on the endpoint', 'DELETE /api/transcribe HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n', 405],
      ['GET on the endpoint', get('/api/transcribe'), 405],
      ['POST on the info', post('', '', '/api/info'), 405],
      ['HEAD of the page', 'HEAD / HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n', 200],
      ['dot-dot path', get('/../../etc/passwd'), 404],
      ['encoded dot-dot path', get('/%2e%2e/%2e%2e/etc/passwd'), 404],
      ['NUL in the path', get('/index.html%00'), 404],
      ['raw NUL in the request line', 'GET /\0 HTTP/1.1\r\nHost: HOST\r\n\r\n', 400],
      ['a 100 KB header', get('/', `X-Big: ${'a'.repeat(100_000)}\r\n`), 431],
      ['3000 headers', get('/', Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')), 431],
      ['control character in a header', get('/', 'X-Bad: a\x01b\r\n'), 400],
      ['HTTP/9.9', 'GET / HTTP/9.9\r\nHost: HOST\r\n\r\n', 400],
      ['a TLS handshake', Buffer.from('16030100a5010000a10303' + '00'.repeat(80), 'hex'), 400],
      ['a line of garbage', 'hello there\r\n\r\n', 400],
      ['negative Content-Length', 'POST /api/transcribe HTTP/1.1\r\nHost: HOST\r\nContent-Length: -1\r\n\r\n', 400],
      ['non-numeric Content-Length', 'POST /api/transcribe HTTP/1.1\r\nHost: HOST\r\nContent-Length: abc\r\n\r\n', 400],
      ['chunked and Content-Length (smuggling)', 'POST /api/transcribe HTTP/1.1\r\nHost: HOST\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['bad chunk size', 'POST /api/transcribe HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400],
      ['script in the variant', post('', wav, '/api/transcribe?variant=%3Cscript%3E'), 400],
      ['adapter without adapter', post('', wav, '/api/transcribe?variant=adapter'), 400],
      ['JSON instead of audio', post('Content-Type: application/json\r\n', '{"audio": "aGVsbG8=", "language": "en"}'), 400],
      ['broken JSON', post('Content-Type: application/json\r\n', '{"audio": '), 400],
      ['empty body', post('', ''), 400],
      ['multipart without boundary', post('Content-Type: multipart/form-data\r\n', multipart('b', [filePart('a.wav', wav)])), 400],
      ['multipart cut before its end', post('Content-Type: multipart/form-data; boundary=xyz\r\n', `--xyz\r\n${filePart('a.wav', wav)}`), 400],
      ['multipart without a file part', post('Content-Type: multipart/form-data; boundary=xyz\r\n', multipart('xyz', ['Content-Disposition: form-data; name="x"\r\n\r\nhello'])), 400],
      ['multipart boundary of 200 characters', post(`Content-Type: multipart/form-data; boundary=${'b'.repeat(200)}\r\n`, multipart('b'.repeat(200), [filePart('a.wav', wav)])), 400],
      ['multipart holding text', post('Content-Type: multipart/form-data; boundary=xyz\r\n', multipart('xyz', [filePart('notes.txt', Buffer.from('not audio'))])), 400],
      ['a valid multipart WAV', post('Content-Type: multipart/form-data; boundary=xyz\r\n', multipart('xyz', [filePart('tone.wav', wav)])), 200],
      ['bad X-File-Name encoding', post('X-File-Name: %E0%A4%A\r\n', wav), 200],
      ['foreign Host (DNS rebinding)', get('/api/info').replace('Host: HOST', 'Host: evil.example'), 403],
      ['POST from another origin', post('Origin: http://evil.example\r\n', wav), 403],
      ['HTTP/1.0 without Host', 'GET / HTTP/1.0\r\n\r\n', 403],
      // (the first KB of it: the answer comes from the Content-Length, before the body is read)
      ['a body over 25 MB', `POST /api/transcribe HTTP/1.1\r\nHost: HOST\r\nContent-Length: ${26 << 20}\r\n\r\n${'x'.repeat(1024)}`, 413],
      ['channel bomb (65535 channels)', post('X-File-Name: channels.wav\r\n', wavDeclaring(65535, 16000, 32768, 2)), 413],
      ['silence bomb (3 h in 37 KB, length in the header)', post('X-File-Name: s.flac\r\n', silentFlac(3 * 3600)), 413],
      ['silence bomb (3 h in 37 KB, no length)', post('X-File-Name: s.flac\r\n', silentFlac(3 * 3600, 16000, false)), 413],
      ['WAV at 1 Hz', post('X-File-Name: rate1.wav\r\n', wavDeclaring(1, 1, 2000)), 400],
      ['a real clip', post('X-File-Name: jfk.flac\r\n', fs.readFileSync(sharedDir('datasets', 'samples', 'jfk.flac'))), 200],
    ];
    const got: string[] = [];
    for (const [name, request, expected] of cases) {
      const response = await raw(port, typeof request === 'string' ? request.replace(/HOST/g, host)
        : Buffer.from(request.toString('latin1').replace(/HOST/, host), 'latin1'));
      got.push(`${statusOf(response)} ${name}`);
      assert.equal(statusOf(response), expected, `${name}: ${response.slice(0, 300)}`);
      if (expected !== 200 && /application\/json/.test(response)) assert.match(response, /\{"error":".+"\}$/, name);
    }
    if (process.env.DEMO_TEST_VERBOSE) console.log(got.join('\n'));
    // Still up, and the bombs did not blow up its memory.
    assert.equal(statusOf(await raw(port, `GET /api/info HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)), 200);
    child.stdin.write('\n');
    const { maxRssMb } = await next();
    console.log(`      ${cases.length} requests answered; demo server peak RSS ${maxRssMb} MB (both bombs included)`);
    assert.ok((maxRssMb as number) < 400, `peak RSS ${maxRssMb} MB`);
  });

  it('answers the errors with a message naming the file and the limit', async () => {
    // (the child is gone: one in-process server with a stub suffices for message checks)
    const demo = await startDemo({ transcriber: { modelName: 'stub', transcribe: async () => ({ text: '', segments: [] }) } });
    try {
      const send = async (name: string, body: Buffer) => {
        const r = await fetch(new URL('api/transcribe', demo.url), { method: 'POST', body, headers: { 'X-File-Name': name } });
        return { status: r.status, error: (await r.json()).error as string };
      };
      assert.deepEqual(await send('s.flac', silentFlac(3 * 3600, 16000, false)),
        { status: 413, error: 's.flac: more than 10 min of audio, the limit' });
      assert.deepEqual(await send('s.flac', silentFlac(3 * 3600)),
        { status: 413, error: 's.flac: its header declares 3 h of audio, more than the limit of 10 min' });
      assert.match((await send('c.wav', wavDeclaring(65535, 16000, 32768, 2))).error, /c\.wav: cannot decode audio: its header declares 65535 channels/);
      assert.match((await send('hires.wav', wavDeclaring(1, 384000, 7680))).error, /hires\.wav: cannot decode audio: its header declares a sample rate of 384000 Hz/);
    } finally {
      await demo.close();
    }
  });
});

describe('demo server: transcription in a worker thread (real whisper-tiny)', function () {
  it('/api/info answers at once during a long transcription; a full queue answers 503 + Retry-After', async () => {
    // 60 s of LibriSpeech (two 30 s windows), as a WAV upload.
    const dir = sharedDir('datasets', 'librispeech-mini', 'test');
    const files = fs.readFileSync(path.join(dir, 'metadata.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    const clips: Float32Array[] = [];
    for (let n = 0, i = 0; n < 60 * 16000; i++) {
      clips.push(await loadAudio(path.join(dir, files[i])));
      n += clips[clips.length - 1].length;
    }
    const long = new Float32Array(60 * 16000);
    clips.reduce((at, c) => (long.set(c.subarray(0, Math.max(0, long.length - at)), at), at + c.length), 0);
    const longWav = encodeWav(long, 16000);
    const jfk = fs.readFileSync(sharedDir('datasets', 'samples', 'jfk.flac'));

    const demo = await startDemo({ model: sharedDir('models', 'whisper-tiny'), maxQueue: 1 });
    try {
      const api = (p: string) => new URL(p, demo.url);
      const transcribe = (body: Buffer) => fetch(api('api/transcribe'), { method: 'POST', body });
      const t0 = performance.now();
      let finished = 0;
      const first = transcribe(longWav).then(async (r) => ((finished = performance.now()), { status: r.status, body: await r.json() }));
      // Wait until the worker has it, then fill the queue: one waits, the next is refused.
      while (((await (await fetch(api('api/info'))).json()).queue.jobs as number) < 1) await new Promise((r) => setTimeout(r, 20));
      const second = transcribe(jfk);
      while (((await (await fetch(api('api/info'))).json()).queue.jobs as number) < 2) await new Promise((r) => setTimeout(r, 20));
      const refused = await transcribe(jfk);
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, `Retry-After: ${refused.headers.get('retry-after')}`);
      assert.match((await refused.json()).error, /busy/);
      // Poll the info while the long job runs.
      const latencies: number[] = [];
      while (!finished) {
        const s = performance.now();
        const r = await fetch(api('api/info'));
        await r.json();
        latencies.push(performance.now() - s);
        const page = await fetch(demo.url);
        assert.equal(page.status, 200);
        await page.text();
        await new Promise((r) => setTimeout(r, 100));
      }
      const { status, body } = await first;
      assert.equal(status, 200, JSON.stringify(body));
      assert.match(body.text, /\w+ \w+ \w+/);
      assert.equal(body.audioSeconds, 60);
      const jobSeconds = (finished - t0) / 1000;
      latencies.sort((a, b) => a - b);
      const max = latencies[latencies.length - 1];
      const median = latencies[latencies.length >> 1];
      console.log(`      60 s upload transcribed in ${jobSeconds.toFixed(1)} s; /api/info during it: ${latencies.length} requests, ` +
        `median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
      assert.ok(latencies.length >= 5, 'the long job ended too soon to measure');
      assert.ok(max < 1000, `/api/info took up to ${max.toFixed(0)} ms while a transcription ran`);
      assert.equal((await second).status, 200);
    } finally {
      await demo.close();
    }
  });
});
