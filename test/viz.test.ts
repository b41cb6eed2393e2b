/** Notebook display helpers: tables, plotly figures, audio players (no tslab needed). */
import { strict as assert } from 'assert';
import { loadAudio } from '../src/audio/decode';
import { sharedDir } from '../tools/shared';
import { audioPlayerHtml, display, escapeHtml, formatCell, histogramsHtml, plotlyHtml, resetPlotlyPage, tableHtml } from '../src/viz';

describe('viz helpers', () => {
  it('tableHtml escapes text, formats numbers and arrays, keeps HTML columns', () => {
    const html = tableHtml([{ a: '<b>x</b>', n: 1.23456, i: 3, arr: new Float32Array(5), raw: '<i>ok</i>' }, { a: 'y' }],
      { caption: 'T & U', htmlColumns: ['raw'] });
    assert.match(html, /<caption[^>]*>T &amp; U<\/caption>/);
    assert.match(html, /<td[^>]*>&lt;b&gt;x&lt;\/b&gt;<\/td>/);
    assert.match(html, /<td[^>]*>1\.235<\/td>/);
    assert.match(html, /<td[^>]*>Float32Array\(5\)<\/td>/);
    assert.match(html, /<td[^>]*><i>ok<\/i><\/td>/);
    assert.equal((html.match(/<tr>/g) ?? []).length, 3);
    assert.equal(formatCell([1, 2, 3, 4, 5, 6, 7, 8, 9]), '[1, 2, 3, 4, 5, 6, 7, 8, ... (9)]');
    assert.match(tableHtml([{ a: 1 }, { a: 2 }, { a: 3 }], { maxRows: 1 }), /\.\.\. 2 more rows/);
    assert.equal(escapeHtml('"a" <&>'), '&quot;a&quot; &lt;&amp;&gt;');
  });

  it('plotlyHtml inlines plotly.js once per page and draws into a unique div', () => {
    resetPlotlyPage();
    const first = plotlyHtml([{ type: 'bar', x: [1], y: [2] }], { title: { text: '</script>' } });
    const second = plotlyHtml([{ type: 'bar', x: [1], y: [3] }]);
    assert.ok(first.length > 1_000_000, 'first figure carries plotly.js');
    assert.ok(second.length < 10_000, 'later figures do not');
    const ids = [first, second].map((h) => /<div id="([^"]+)" class="plotly-figure"/.exec(h)![1]);
    assert.notEqual(ids[0], ids[1]);
    assert.match(second, new RegExp(`Plotly\\.newPlot\\("${ids[1]}", \\[\\{"type":"bar","x":\\[1\\],"y":\\[3\\]\\}\\]`));
    assert.ok(!first.slice(first.indexOf('class="plotly-figure"')).includes('"</script>"'), 'JSON cannot close the script');
  });

  it('histogramsHtml: one subplot per series, same bins, y axes matched', () => {
    const html = histogramsHtml({ train: [1, 2, 2.5, 9], test: [0.5, 3] }, { binSize: 0.5 });
    const json = /newPlot\("[^"]+", (\[.*?\]), (\{.*?\}), \{"responsive"/.exec(html)!;
    const data = JSON.parse(json[1]);
    const layout = JSON.parse(json[2]);
    assert.deepEqual(data.map((t: { name: string }) => t.name), ['train', 'test']);
    assert.deepEqual(data[0].xbins, data[1].xbins);
    assert.deepEqual(data[0].xbins, { start: 0.5, end: 9.5, size: 0.5 });
    assert.deepEqual([data[0].yaxis, data[1].yaxis], ['y', 'y2']);
    assert.deepEqual(layout.yaxis2, { matches: 'y', showticklabels: false });
    assert.deepEqual(layout.grid, { rows: 1, columns: 2, pattern: 'independent' });
  });

  it('audioPlayerHtml embeds the clip as a playable WAV', async () => {
    const x = await loadAudio(sharedDir('datasets', 'pocketsphinx-testdata', '001.wav'));
    const html = audioPlayerHtml(x, 16000, 'ten of clubs');
    const b64 = /src="data:audio\/wav;base64,([^"]+)"/.exec(html)![1];
    const wav = Buffer.from(b64, 'base64');
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(24), 16000);
    assert.match(html, /<audio controls/);
    assert.match(html, /ten of clubs/);
    assert.match(html, /title="1\.10 s at 16000 Hz"/);
  });

  it('display outside tslab returns the HTML and renders nothing', () => {
    process.env.WF_DISPLAY_LOG = '0';
    assert.equal(display('<p>x</p>'), '<p>x</p>');
    delete process.env.WF_DISPLAY_LOG;
  });
});
