/**
 * `npm start`: the whole WeChat login flow, end to end, over loopback HTTP.
 *
 * Starts the WeChat API emulator and the reference server, runs the demo mini program headlessly
 * (App() from miniprogram/app.ts, the index page in miniprogram-simulate) on a Node `wx` whose
 * wx.login asks the emulator for a code and whose wx.request does real HTTP, and checks every step.
 * Exit 0 only when every step behaved; otherwise 1, naming the step. To see that happen:
 * DEMO_TOKEN_TTL_S=0 npm start (the server then rejects every token it issues).
 */
import 'global-jsdom/register';
import path from 'node:path';
import pc from 'picocolors';
import { runJourney } from './journey';

runJourney({ log: (line) => console.log(line) })
  .then((result) => {
    console.log('');
    console.log(pc.bold('before the first authorized answer (in-band login; the classic flow costs 3 hops in each: npm run bench:latency)'));
    for (const p of result.phases) {
      console.log(`  ${p.name.padEnd(12)} ${p.hops} serial hops   wx.login ${p.login}, login POSTs ${p.loginPosts}, code2Session ${p.code2Session}`);
    }
    console.log('');
    console.log(pc.bold('counts'), `wx.login ${result.counts.login}, login POSTs ${result.counts.loginPosts}, wx.request ${result.counts.request}, wx.uploadFile ${result.counts.uploadFile}, wx.downloadFile ${result.counts.downloadFile}`);
    console.log(pc.green(pc.bold(`✔ all ${result.steps} steps behaved`)));
    process.exit(0);
  })
  .catch((err: Error & { step?: string }) => {
    console.error('');
    console.error(pc.red(pc.bold(`✖ step failed: ${err.step ?? 'setup'}`)));
    console.error(pc.red(err.message));
    if (!err.step) console.error(err.stack?.split('\n').slice(1, 4).join('\n').replace(new RegExp(path.resolve(__dirname, '..'), 'g'), '.'));
    process.exit(1);
  });
