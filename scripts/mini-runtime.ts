/**
 * Runs a BUILT mini program (WeChat native, Taro's or uni-app's weapp, tt or alipay output) in
 * Node, faithfully enough to catch registration and module-copy bugs: the globals WeChat defines
 * (`wx`, or Douyin's `tt` / Alipay's `my` / QQ's `qq` for their builds, never two of them), `App`,
 * `Page`, `Component`, `getApp`, `getCurrentPages`, `Behavior`, `requirePlugin`) record what the
 * app registers; `launch()` requires app.js and runs `onLaunch`; `mountComponent()` requires a
 * page's custom component as its usingComponents names it, and attaches it with a `this` that has
 * `data` (property defaults), `setData`, `triggerEvent` and its `methods`, as WeChat's would; an
 * Alipay component (`props`, `didMount`) gets Alipay's `this`: `props` (defaults, then what the
 * page passes, with an `onXxx` function for every event) and `data`.
 * Bare npm paths (`wx-login-kit/...`) resolve in miniprogram_npm, as WeChat resolves them.
 * No rendering: frameworks' page trees are not run.
 */
import fs from 'node:fs';
import path from 'node:path';

type Options = Record<string, unknown> & {
  onLaunch?: (this: unknown, o: object) => void;
  onShow?: (this: unknown, o: object) => void;
  lifetimes?: Record<string, (() => void) | undefined>;
  attached?: () => void;
  /** Alipay's component model: props defaults and didMount. */
  props?: Record<string, unknown>;
  didMount?: () => void;
  methods?: Record<string, (...args: unknown[]) => unknown>;
  properties?: Record<string, { value?: unknown } | unknown>;
  data?: Record<string, unknown>;
};

export interface MountedComponent {
  data: Record<string, unknown>;
  /** Every `triggerEvent(name, detail)` (on Alipay: every `this.props.onXxx(event)`, `event` kept), in order. */
  events: Array<{ name: string; detail: unknown; event?: unknown }>;
  /** Resolves at the next `triggerEvent` whose name is in `names`. */
  nextEvent(...names: string[]): Promise<{ name: string; detail: unknown }>;
  /** Calls the handler the component's template binds to the event (`bind<event>`, Alipay's `on<Event>`) on its root element, as a tap would. */
  fire(event: string, detail: unknown): Promise<unknown>;
  file: string;
}

const LAUNCH = { path: 'pages/index/index', query: {}, scene: 1001, referrerInfo: {} };

/** What the frameworks' runtimes read at start-up, answered as WeChat DevTools would (base library 3.6.0). */
const SYSTEM = { platform: 'devtools', SDKVersion: '3.6.0', version: '8.0.50', language: 'zh_CN', pixelRatio: 2, windowWidth: 375, windowHeight: 667, screenWidth: 375, screenHeight: 667, statusBarHeight: 20 };
const STARTUP_APIS: Record<string, (...args: unknown[]) => unknown> = {
  getSystemInfoSync: () => ({ ...SYSTEM }),
  getAppBaseInfo: () => ({ ...SYSTEM }),
  getWindowInfo: () => ({ ...SYSTEM }),
  getDeviceInfo: () => ({ ...SYSTEM }),
  getLaunchOptionsSync: () => ({ path: 'pages/index/index', query: {}, scene: 1001, referrerInfo: {} }),
  getEnterOptionsSync: () => ({ path: 'pages/index/index', query: {}, scene: 1001, referrerInfo: {} }),
  getAccountInfoSync: () => ({ miniProgram: { appId: 'touristappid', envVersion: 'develop', version: '' } }),
  canIUse: () => true,
  onAppHide: () => undefined,
  offAppHide: () => undefined,
};

/**
 * `wx` for the built code: the given methods, the start-up APIs above as own keys (uni-app copies
 * `wx` key by key, Taro lists its keys), and for any other `get*`/`on*`/... a stub answering `{}`;
 * `stubbed` lists those used.
 */
function platform(wx: object, stubbed: Set<string>): object {
  return new Proxy(Object.assign({}, STARTUP_APIS, wx), {
    get(target, key, receiver) {
      if (key in target || typeof key === 'symbol') return Reflect.get(target, key, receiver);
      if (/Sync$/.test(key) || /^(can|on|off|get|set|create|report|next|hide|show)/.test(key)) {
        stubbed.add(key);
        return () => ({});
      }
      return undefined;
    },
  });
}

/** The global object's keys before the current mini program ran (undefined before the first). */
let keysBefore: Set<string> | undefined;

/** The platform's API global: `wx` (WeChat), `tt` (Douyin), `my` (Alipay), `qq` (QQ). */
export type PlatformGlobal = 'wx' | 'tt' | 'my' | 'qq';

/**
 * Other globals a platform's JS context has that Node's may lack. Alipay's has a `navigator`
 * whose user agent is `swuserAgent` only (Taro's Alipay runtime reads it at start-up:
 * @tarojs/plugin-platform-alipay/dist/runtime.js, "支付宝真机只有 navigator.swuserAgent").
 */
const CONTEXT: Record<PlatformGlobal, Record<string, () => unknown>> = {
  wx: {},
  tt: {},
  qq: {},
  my: { navigator: () => ({ swuserAgent: 'Mozilla/5.0 (Linux; Android 12) AlipayClient/10.5.0 MiniProgram' }) },
};
/** Node's own descriptors of the globals CONTEXT replaced, restored for the next mini program. */
const replaced = new Map<string, PropertyDescriptor | undefined>();

export function createMiniRuntime(root: string, wx: object, global: PlatformGlobal = 'wx') {
  const g = globalThis as Record<string, unknown>;
  // On a device each mini program has its own JS context: what the previous one left on the
  // global object goes (uni-app keeps its createApp/createPage there, and a later build would call
  // the earlier one's). One platform's global only: the kit and the frameworks tell the platform by it.
  for (const key of Object.keys(g)) if (keysBefore && !keysBefore.has(key)) delete g[key];
  for (const name of ['wx', 'tt', 'my', 'qq']) delete g[name];
  for (const [key, own] of replaced) {
    delete g[key];
    if (own) Object.defineProperty(g, key, own);
  }
  replaced.clear();
  keysBefore = new Set(Object.keys(g));
  for (const [key, make] of Object.entries(CONTEXT[global])) {
    replaced.set(key, Object.getOwnPropertyDescriptor(g, key));
    Object.defineProperty(g, key, { value: make(), configurable: true, writable: true, enumerable: true });
  }
  const stubbed = new Set<string>();
  const registered: { app?: Options; pages: Map<string, Options>; components: Map<string, Options> } = { pages: new Map(), components: new Map() };
  let current = '';
  const nodeRequire = require as unknown as NodeJS.Require;

  // WeChat resolves a bare name (`require('wx-login-kit')`) in miniprogram_npm, not node_modules.
  const Module = nodeRequire('node:module') as { _resolveFilename: (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string };
  const resolve = Module._resolveFilename;
  const npm = path.join(root, 'miniprogram_npm');

  /** Requires a file of the mini program as WeChat would load it, recording what it registers. */
  function load(file: string): void {
    const previous = current;
    current = file;
    Module._resolveFilename = (request, parent, ...rest) => {
      const fromApp = parent?.filename?.startsWith(root + path.sep) && !parent.filename.includes(`${path.sep}node_modules${path.sep}`);
      if (fromApp && !/^[./]/.test(request) && !request.startsWith('node:') && fs.existsSync(npm)) {
        return resolve.call(Module, path.join(npm, request), parent, ...rest);
      }
      return resolve.call(Module, request, parent, ...rest);
    };
    try {
      nodeRequire(file);
    } finally {
      Module._resolveFilename = resolve;
      current = previous;
    }
  }

  Object.assign(g, {
    [global]: platform(wx, stubbed),
    App: (o: Options) => {
      registered.app = o;
    },
    getApp: () => registered.app,
    Page: (o: Options) => void registered.pages.set(current, o),
    Component: (o: Options) => void registered.components.set(current, o),
    Behavior: (o: Options) => o,
    getCurrentPages: () => [],
    requirePlugin: (name: string) => {
      throw new Error(`requirePlugin('${name}'): no plugins here`);
    },
  });

  const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;

  /** Where WeChat finds a usingComponents path written in `fromDir`. */
  function resolveComponent(fromDir: string, spec: string): string {
    const candidates = spec.startsWith('/')
      ? [path.join(root, spec)]
      : spec.startsWith('.')
        ? [path.resolve(fromDir, spec)]
        : [path.resolve(fromDir, spec), path.join(root, 'miniprogram_npm', spec)];
    const found = candidates.find((c) => fs.existsSync(`${c}.js`));
    if (!found) throw new Error(`usingComponents "${spec}" of ${path.relative(root, fromDir) || '.'} resolves to no .js (tried ${candidates.map((c) => path.relative(root, c)).join(', ')})`);
    return found;
  }

  return {
    registered,
    /** Methods the built code called that the given `wx` / `tt` / `my` lacks (answered with `{}`). */
    stubbed,

    /** Requires app.js, then every page of app.json, and runs App's onLaunch and onShow. Returns the app. */
    launch(): Options {
      load(path.join(root, 'app.js'));
      const app = registered.app;
      if (!app) throw new Error('app.js did not call App()');
      app.onLaunch?.call(app, LAUNCH);
      app.onShow?.call(app, LAUNCH);
      return app;
    },

    /** Requires every page of app.json; throws naming one that registered neither Page nor Component. */
    loadPages(): string[] {
      const pages = (readJson(path.join(root, 'app.json')).pages as string[]) ?? [];
      for (const page of pages) {
        const file = path.join(root, `${page}.js`);
        load(file);
        if (!registered.pages.has(file) && !registered.components.has(file)) throw new Error(`${page}.js registered no Page() or Component()`);
      }
      return pages;
    },

    /**
     * Runs the `onLoad` of a page registered with `Page()` on a `this` with `data` and `setData`;
     * resolves the page's data once what onLoad returned has settled.
     */
    async openPage(page: string): Promise<Record<string, unknown>> {
      const options = registered.pages.get(path.join(root, `${page}.js`));
      if (!options) throw new Error(`${page}.js registered no Page()`);
      const data: Record<string, unknown> = { ...options.data };
      const self: Record<string, unknown> = { ...options, data, route: page, setData: (patch: Record<string, unknown>) => Object.assign(data, patch) };
      await (options.onLoad as ((this: unknown, query: object) => unknown) | undefined)?.call(self, {});
      return data;
    },

    /**
     * Requires the component `tag` of page `page` (e.g. `pages/login/index`) and runs its
     * `attached` (Alipay: `didMount`); `attrs` are what the page's template passes it (on Alipay
     * its props: Taro passes `id` and `data-sid`).
     */
    mountComponent(page: string, tag: string, attrs: Record<string, unknown> = {}): MountedComponent {
      const pageJson = readJson(path.join(root, `${page}.json`));
      const spec = (pageJson.usingComponents as Record<string, string> | undefined)?.[tag];
      if (!spec) throw new Error(`${page}.json has no usingComponents "${tag}"`);
      const base = resolveComponent(path.dirname(path.join(root, page)), spec);
      const file = `${base}.js`;
      load(file);
      const options = registered.components.get(file);
      if (!options) throw new Error(`${path.relative(root, file)} registered no Component()`);
      // The platform's template: WeChat's .wxml, Douyin's .ttml.
      const template = `${base}.${{ wx: 'wxml', tt: 'ttml', my: 'axml', qq: 'qml' }[global]}`;
      const wxml = fs.readFileSync(template, 'utf8');

      const events: MountedComponent['events'] = [];
      const waiting: Array<{ names: string[]; resolve: (e: { name: string; detail: unknown }) => void }> = [];
      const record = (e: MountedComponent['events'][number]) => {
        events.push(e);
        for (const w of waiting.splice(0)) (w.names.includes(e.name) ? w.resolve(e) : waiting.push(w));
      };
      const alipay = 'props' in options || 'didMount' in options;
      const data: Record<string, unknown> = {};
      let self: Record<string, unknown>;
      if (alipay) {
        // Alipay: props are the defaults, then the page's attributes; the page listens to every
        // event, so any `onXxx` read is a function recording the event object it is given.
        const props = new Proxy(Object.assign({}, options.props, attrs), {
          get(target, key, receiver) {
            if (typeof key === 'string' && /^on[A-Z]/.test(key) && !(key in target)) {
              return (event: { detail?: unknown }) => record({ name: key[2].toLowerCase() + key.slice(3), detail: event?.detail, event });
            }
            return Reflect.get(target, key, receiver);
          },
        });
        Object.assign(data, options.data);
        self = { data, props, is: `/${path.relative(root, base)}`, $page: {}, setData: (patch: Record<string, unknown>) => Object.assign(data, patch) };
      } else {
        for (const [k, p] of Object.entries(options.properties ?? {})) data[k] = p && typeof p === 'object' && 'value' in p ? (p as { value: unknown }).value : undefined;
        Object.assign(data, attrs, options.data);
        self = {
          data,
          is: path.relative(root, base),
          setData(patch: Record<string, unknown>) {
            Object.assign(data, patch);
          },
          triggerEvent: (name: string, detail: unknown) => record({ name, detail }),
        };
      }
      for (const [k, fn] of Object.entries(options.methods ?? {})) self[k] = fn.bind(self);
      if (alipay) options.didMount?.call(self);
      else (options.lifetimes?.attached ?? options.attached)?.call(self);

      return {
        data,
        events,
        file: path.relative(root, file),
        nextEvent: (...names) => new Promise((resolve) => waiting.push({ names, resolve })),
        async fire(event, detail) {
          const binding = alipay ? `on${event[0].toUpperCase()}${event.slice(1)}` : `bind:?${event}`;
          const handler = new RegExp(`${binding}="([\\w$]+)"`).exec(wxml)?.[1];
          if (!handler || typeof self[handler] !== 'function') throw new Error(`${path.relative(root, template)} binds no method to ${event}`);
          return (self[handler] as (e: object) => unknown)({ type: event, timeStamp: Date.now(), detail, target: {}, currentTarget: {} });
        },
      };
    },
  };
}
