/**
 * `wx-login-kit/uni` per uni-app platform: in an mp-alipay build
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

describe('copying the components where uni-app takes them from', () => {
  const cwd = process.cwd();
  const savedInput = process.env.UNI_INPUT_DIR;
  let project: string;
  beforeEach(() => {
    // A project with the kit installed: its components as the package ships them (the sources' files).
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'wx-login-kit-uni-project-'));
    const kit = path.join(project, 'node_modules/wx-login-kit');
    fs.mkdirSync(kit, { recursive: true });
    fs.writeFileSync(path.join(kit, 'package.json'), JSON.stringify({ name: 'wx-login-kit', version: '0.0.0' }));
    fs.cpSync(path.join(ROOT, 'src/components'), path.join(kit, 'components'), { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), '{}');
    process.chdir(project);
    process.env.UNI_INPUT_DIR = path.join(project, 'src');
  });
  afterEach(() => {
    process.chdir(cwd);
    if (savedInput === undefined) delete process.env.UNI_INPUT_DIR;
    else process.env.UNI_INPUT_DIR = savedInput;
    fs.rmSync(project, { recursive: true, force: true });
  });
  const copied = (folder: string) => {
    const dir = path.join(project, 'src', folder);
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  };

  it.each([
    ['mp-weixin', 'wxcomponents', ['login-button', 'login-profile'], 'index.wxml'],
    ['mp-toutiao', 'ttcomponents', ['login-button'], 'index.ttml'],
    ['mp-alipay', 'mycomponents', ['login-button'], 'index.axml'],
  ])('%s: into src/%s, only the components with that platform\'s template', (platform, folder, names, template) => {
    process.env.UNI_PLATFORM = platform;
    loginKitComponents();
    expect(copied(folder)).toEqual(names);
    for (const name of names) expect(fs.existsSync(path.join(project, 'src', folder, name, template))).toBe(true);
    for (const other of ['wxcomponents', 'ttcomponents', 'mycomponents'].filter((f) => f !== folder)) expect(copied(other)).toEqual([]);
  });
});
