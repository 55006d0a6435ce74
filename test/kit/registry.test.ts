import { createAuth, getAuth, getDefaultAuth, WxLoginKitError } from 'wx-login-kit';
import { createFakeWx } from '../support/fake-wx';

const KEY = Symbol.for('wx-login-kit');
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KEY];
  jest.restoreAllMocks();
});
const wx = () => createFakeWx(() => ({ statusCode: 200 })).wx;

describe('the instance registry', () => {
  it('before any createAuth, getDefaultAuth and getAuth(name) throw an error that says what to call', () => {
    expect(() => getDefaultAuth()).toThrow(WxLoginKitError);
    expect(() => getDefaultAuth()).toThrow(`no auth instance named "default": call createAuth({ baseURL, name: 'default' }) first`);
    expect(() => getAuth('shop')).toThrow(`call createAuth({ baseURL, name: 'shop' }) first`);
  });

  it('an instance made without a name is the default; a named one is found by its name only', () => {
    const main = createAuth({ baseURL: 'https://api.example.com', wx: createFakeWx(() => ({ statusCode: 200 })).wx });
    const shop = createAuth({ name: 'shop', baseURL: 'https://shop.example.com', wx: createFakeWx(() => ({ statusCode: 200 })).wx });
    expect(getDefaultAuth()).toBe(main);
    expect(getAuth()).toBe(main);
    expect(getAuth('shop')).toBe(shop);
  });

  it('every copy of the kit in the app sees the same instances', () => {
    let copy!: typeof import('wx-login-kit');
    jest.isolateModules(() => {
      copy = require('../../src/index');
    });
    expect(copy.getAuth).not.toBe(getAuth);
    const made = copy.createAuth({ baseURL: 'https://api.example.com', wx: createFakeWx(() => ({ statusCode: 200 })).wx });
    expect(getDefaultAuth()).toBe(made);
    jest.spyOn(console, 'warn').mockImplementation(() => {}); // this copy replaces that one, on purpose
    const mine = createAuth({ baseURL: 'https://api.example.com', wx: createFakeWx(() => ({ statusCode: 200 })).wx });
    expect(copy.getDefaultAuth()).toBe(mine);
  });

  it('a second createAuth under a name already taken warns once, naming it and the name option, and replaces the first', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    createAuth({ name: 'shop', baseURL: 'https://shop.example.com', wx: wx() });
    createAuth({ baseURL: 'https://api.example.com', wx: wx() });
    expect(warn).not.toHaveBeenCalled();
    const second = createAuth({ name: 'shop', baseURL: 'https://shop.example.com', wx: wx() });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      `[wx-login-kit] a second createAuth named "shop" replaced the first; give each its own name`,
    );
    expect(getAuth('shop')).toBe(second);
  });
});
