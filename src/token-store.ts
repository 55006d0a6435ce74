import type { WxLike, WxObject } from './wx.js';

/**
 * What is kept under `storageKey`. `expiresAt`: when the kit stops using the token (ms since epoch;
 * the server's expiry less `expiryMargin`), `null` when the server gave no `expiresIn`.
 */
export interface StoredToken {
  token: string;
  expiresAt: number | null;
}

/**
 * The one place the token lives: memory, mirrored to `app.globalData[globalDataKey]` and to storage.
 * It starts with what storage holds; malformed data is removed, unreadable storage ignored.
 * Storage is best effort: `setStorageSync` throws when the 10 MB quota is full, and then the kit
 * keeps working from memory and reports the failure through `onError`.
 */
export function createTokenStore(wx: WxLike, storageKey: string, globalDataKey: string, onError: (err: unknown) => void) {
  let current: StoredToken | null = null;
  try {
    const v = wx.getStorageSync(storageKey) as StoredToken | null;
    // `'' > 0`, `'soon' > 0` and `NaN > 0` are all false: only a number or null passes.
    if (v && typeof v.token === 'string' && v.token && (v.expiresAt === null || v.expiresAt > 0)) current = v;
    // Anything else stored there is no token: gone, so that storage never disagrees with memory.
    else wx.removeStorageSync(storageKey);
  } catch (err) {
    // unreadable: as if nothing was stored
  }
  let app: { globalData?: WxObject } | undefined;

  /** Sets the token in memory and globalData, then runs `write` on storage. */
  function set(next: StoredToken | null, write: () => void) {
    current = next;
    if (app) (app.globalData = app.globalData || {})[globalDataKey] = next && next.token;
    try {
      write();
    } catch (err) {
      // An older token may stay in storage; at the next launch it gets a 401 and one re-login.
      onError(err);
    }
  }

  return {
    get current() {
      return current;
    },

    /** Makes `app.globalData` follow the token from now on. */
    attach(target: { globalData?: WxObject }) {
      app = target;
      set(current, () => {});
    },

    save(next: StoredToken) {
      set(next, () => wx.setStorageSync(storageKey, next));
    },

    clear() {
      set(null, () => wx.removeStorageSync(storageKey));
    },
  };
}
