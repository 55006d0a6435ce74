/**
 * WeChat's synchronous storage with its limits, shared by the unit-test fake `wx` and the demo's
 * Node `wx`: values round-trip through JSON like on the device, `getStorageSync` answers `''` for a
 * missing key, and `setStorageSync` throws past 1 MB per key or 10 MB in total, or when told to.
 * https://developers.weixin.qq.com/miniprogram/dev/api/storage/wx.setStorageSync.html
 */
export const KEY_LIMIT = 1024 * 1024;
export const TOTAL_LIMIT = 10 * 1024 * 1024;

export function createWxStorage() {
  const entries = new Map<string, string>();
  const storage = {
    entries,
    /** Makes every setStorageSync throw, as when the quota is full. */
    throws: false,
    getStorageSync(key: string): unknown {
      const raw = entries.get(key);
      return raw === undefined ? '' : JSON.parse(raw);
    },
    setStorageSync(key: string, value: unknown) {
      if (storage.throws) throw new Error('setStorageSync:fail exceed storage max size 10MB');
      const raw = JSON.stringify(value);
      if (raw.length > KEY_LIMIT) throw new Error('setStorageSync:fail entry size limit reached');
      let total = raw.length;
      for (const [k, v] of entries) if (k !== key) total += v.length;
      if (total > TOTAL_LIMIT) throw new Error('setStorageSync:fail exceed storage max size 10MB');
      entries.set(key, raw);
    },
    removeStorageSync(key: string) {
      entries.delete(key);
    },
  };
  return storage;
}
