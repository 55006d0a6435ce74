/**
 * `wx-login-kit/uni` picks the kit's entry per uni-app platform: in an mp-alipay build
 * `wx-login-kit` resolves to the Alipay entry (the adapter for `my`); elsewhere vite resolves it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loginKitComponents } from '../../integrations/uni';

const ROOT = path.resolve(__dirname, '../..');
const saved = process.env.UNI_PLATFORM;
afterEach(() => {
  if (saved === undefined) delete process.env.UNI_PLATFORM;
  else process.env.UNI_PLATFORM = saved;
});

// No components copied: this is about resolution (check:examples builds the real thing).
const plugin = () => loginKitComponents({ dir: fs.mkdtempSync(path.join(os.tmpdir(), 'wx-login-kit-uni-')), components: [] });

it.each(['mp-alipay'])('%s: wx-login-kit resolves to the installed kit\'s Alipay entry', (platform) => {
  process.env.UNI_PLATFORM = platform;
  const p = plugin();
  // The kit "installed" here is this repository itself (a package resolves its own name).
  expect(p.resolveId('wx-login-kit')).toBe(path.join(ROOT, 'dist/esm/index.alipay.js'));
  expect(p.resolveId('wx-login-kit/server')).toBeUndefined();
  expect(p.resolveId('vue')).toBeUndefined();
});

it.each(['mp-weixin', 'mp-toutiao', undefined])('%s: left to vite (no Alipay code in the bundle)', (platform) => {
  if (platform) process.env.UNI_PLATFORM = platform;
  else delete process.env.UNI_PLATFORM;
  expect(plugin().resolveId('wx-login-kit')).toBeUndefined();
});
