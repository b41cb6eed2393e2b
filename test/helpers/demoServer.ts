/**
 * Child process for the demo hardening tests: the real demo server with a stub transcriber (no
 * model: requests take `STUB_DELAY_MS`), so a crash shows up as a dead child, not a dead test run.
 * Prints {"url"} once listening; any line on stdin makes it print {"maxRssMb"} and exit.
 */
import { startDemo } from '../../apps/demo/server';

async function main() {
  const delay = Number(process.env.STUB_DELAY_MS ?? 0);
  const demo = await startDemo({
    transcriber: {
      modelName: 'stub',
      transcribe: async (audio) => {
        await new Promise((r) => setTimeout(r, delay));
        return { text: `stub: ${audio.length} samples`, segments: [] };
      },
    },
  });
  console.log(JSON.stringify({ url: demo.url, port: demo.port }));
  process.stdin.once('data', () => {
    console.log(JSON.stringify({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }));
    process.exit(0);
  });
}

main();
