import type { WxLike } from './options';

/** What is kept under `storageKey`. `expiresAt` is ms since epoch, `null` when the server gave no `expiresIn`. */
export interface StoredToken {
  token: string;
  expiresAt: number | null;
}

/**
 * The one place the token lives: memory, mirrored to `app.globalData[globalDataKey]` and to storage.
 * Storage is best effort: `setStorageSync` throws when the 10 MB quota is full, and then the kit
 * keeps working from memory and reports the failure through `onError`.
 */
export function createTokenStore(wx: WxLike, storageKey: string, globalDataKey: string, onError: (err: unknown) => void) {
  let current: StoredToken | null = null;
  let app: { globalData?: Record<string, unknown> } | null = null;

  function mirror() {
    if (app) (app.globalData ??= {})[globalDataKey] = current ? current.token : null;
  }

  return {
    get current() {
      return current;
    },

    /** Makes `app.globalData` follow the token from now on. */
    attach(target: { globalData?: Record<string, unknown> }) {
      app = target;
      mirror();
    },

    /** Loads a stored token into memory; malformed or unreadable data is ignored. */
    restore(): StoredToken | null {
      let raw: unknown;
      try {
        raw = wx.getStorageSync(storageKey);
      } catch {
        return null;
      }
      const v = raw as Partial<StoredToken> | null;
      const valid =
        !!v && typeof v === 'object' && typeof v.token === 'string' && v.token !== '' &&
        (v.expiresAt === null || (typeof v.expiresAt === 'number' && Number.isFinite(v.expiresAt)));
      current = valid ? { token: v.token as string, expiresAt: v.expiresAt as number | null } : null;
      mirror();
      return current;
    },

    save(next: StoredToken) {
      current = next;
      mirror();
      try {
        wx.setStorageSync(storageKey, next);
      } catch (err) {
        onError(err);
      }
    },

    clear() {
      current = null;
      mirror();
      try {
        wx.removeStorageSync(storageKey);
      } catch (err) {
        onError(err);
      }
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
