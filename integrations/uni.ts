/**
 * `wx-login-kit/uni`: a vite plugin for uni-app (Vue 3) that puts the kit's native components
 * where uni-app takes them from, and in an mp-alipay build resolves `wx-login-kit` to
 * `wx-login-kit/alipay` (the kit with Alipay's adapter), so the same app code runs there.
 *
 *   // vite.config.ts
 *   import uni from '@dcloudio/vite-plugin-uni';
 *   import { loginKitComponents } from 'wx-login-kit/uni';
 *   export default defineConfig({ plugins: [loginKitComponents(), uni()] });
 *
 * uni-app copies native mini program components only from `<src>/wxcomponents/` (mp-weixin),
 * never from node_modules: a `usingComponents` path into the package builds without error and
 * copies nothing. So this copies `<login-button>` and `<login-profile>` of the installed kit
 * there when vite loads its config, at every build: an upgrade of the kit needs nothing more.
 * The copies are build output: add `src/wxcomponents/login-*` to `.gitignore`. For mp-toutiao the
 * folder is `ttcomponents/`, for mp-alipay `mycomponents/`, and only components with that
 * platform's template (index.ttml, index.axml: `<login-button>`) go there.
 * https://uniapp.dcloud.net.cn/tutorial/miniprogram-subject.html#小程序自定义组件支持
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export type LoginKitComponent = 'login-button' | 'login-profile';

export interface LoginKitComponentsOptions {
  /**
   * Where uni-app takes native components from.
   * @default `${process.env.UNI_INPUT_DIR ?? 'src'}/wxcomponents` (`ttcomponents` for mp-toutiao, `mycomponents` for mp-alipay), from the project's folder
   */
  dir?: string;
  /** Which components. @default ['login-button', 'login-profile'] */
  components?: LoginKitComponent[];
}

/** The part of vite's `Plugin` this uses (vite's own type is not needed to use it). */
export interface LoginKitVitePlugin {
  name: string;
  enforce: 'pre';
  config(): void;
  /** `wx-login-kit` → the installed kit's `dist/esm/index.alipay.js` when `UNI_PLATFORM` is `mp-alipay`; else vite's own resolution. */
  resolveId(source: string): string | undefined;
}

/**
 * Copies the components at once (uni-app scans `wxcomponents/` while it sets itself up) and
 * again in `config`, so a `vite build --watch` or a second build of the same process gets them.
 * @throws Error when the kit is not installed in the project (`npm i wx-login-kit`)
 */
export function loginKitComponents(options: LoginKitComponentsOptions = {}): LoginKitVitePlugin {
  // uni-app's folder of native components per platform (COMPONENTS_DIR of uni-mp-toutiao and
  // uni-mp-alipay), and the template a component needs there.
  const platform = process.env.UNI_PLATFORM;
  const [folder, template] = platform === 'mp-toutiao' ? ['ttcomponents', 'index.ttml'] : platform === 'mp-alipay' ? ['mycomponents', 'index.axml'] : ['wxcomponents', ''];
  const dir = resolve(options.dir ?? join(process.env.UNI_INPUT_DIR ?? 'src', folder));
  const wanted = options.components ?? ['login-button', 'login-profile'];
  /** The kit installed in the project, whatever copy of this file runs. */
  const installed = () => {
    try {
      return dirname(createRequire(join(process.cwd(), 'package.json')).resolve('wx-login-kit/package.json'));
    } catch {
      throw new Error(`[wx-login-kit] loginKitComponents: wx-login-kit is not installed in ${process.cwd()}; run npm i wx-login-kit.`);
    }
  };
  const copy = () => {
    const kit = installed();
    // On Douyin and Alipay, only the components that have the platform's template.
    const components = template ? wanted.filter((name) => existsSync(join(kit, 'components', name, template))) : wanted;
    for (const name of components) {
      const to = join(dir, name);
      rmSync(to, { recursive: true, force: true });
      cpSync(join(kit, 'components', name), to, { recursive: true, filter: (src) => !src.endsWith('.d.ts') });
    }
  };
  copy();
  return {
    name: 'wx-login-kit:components',
    enforce: 'pre',
    config: copy,
    // uni-app sets UNI_PLATFORM before vite loads plugins; Alipay's `my` needs the adapter, which
    // WeChat's and Douyin's bundles must not carry.
    resolveId: (source) => (source === 'wx-login-kit' && process.env.UNI_PLATFORM === 'mp-alipay' ? join(installed(), 'dist/esm/index.alipay.js') : undefined),
  };
}
