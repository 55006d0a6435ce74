import type { WxLike } from './wx.js';
import { wxLogin } from './platform.js';

/**
 * Keeps one fresh, unused `wx.login` code.
 *
 * Why: WeChat encrypts a button's `encryptedData` with the session_key of the user's LATEST code.
 * A `wx.login` after the tap may refresh the login state and break decryption, so the code sent
 * with `encryptedData` must be one fetched before the tap. Every `wx.login` the kit makes goes
 * through here, so a kept code is always the latest one. A code lives 5 minutes and is single use;
 * we keep it `interval` ms at most.
 * https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/getPhoneNumber.html
 *
 * Timers stop 5 s after the app goes to the background, so age is judged by timestamps and
 * checked again on `wx.onAppShow`.
 */
export function createCodeKeeper(wx: WxLike, interval: number) {
  let kept: { code: string; at: number } | null = null;
  let fetching: Promise<void> | null = null;
  let refs = 0;
  // Set when a code went out with `refill: false`: no wx.login until start() is called again.
  let paused = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const isFresh = () => !!kept && Date.now() - kept.at < interval;

  /** Next refresh when the kept code turns stale; a full interval when there is none (or a refresh failed). */
  function schedule() {
    if (timer) clearTimeout(timer);
    timer = refs ? setTimeout(refresh, isFresh() ? kept!.at + interval - Date.now() : interval) : undefined;
  }

  /** One `wx.login` for the keeper, unless one is under way or refreshing is paused. */
  function refresh(): void {
    if (!fetching && !paused) {
      fetching = wxLogin(wx).then(
        (code) => {
          kept = { code, at: Date.now() };
        },
        () => {
          // A failed prefetch is not fatal: getCode falls back to wx.login; the next tick tries again.
        },
      );
      fetching.then(() => {
        fetching = null;
        schedule();
      });
    }
  }

  function onAppShow() {
    if (!isFresh()) refresh();
  }

  function take(refill?: boolean): string | undefined {
    const code = isFresh() ? kept!.code : undefined;
    kept = null;
    // A button on screen wants the next tap covered too, unless the code's user asked for quiet.
    if (code && !refill) paused = true;
    if (code && refs) refresh();
    return code;
  }

  return {
    /**
     * A login code that is unused and younger than `interval`; marks it used. Without one,
     * waits for a fetch under way or calls `wx.login`. Never hands out a code twice.
     * `refill` (default true): while refreshing, fetch the next code at once. Pass false when the
     * code goes out with encryptedData: it must come from before the tap, so there is no
     * `wx.login` fallback (rejects `{errMsg}` instead), and since a wx.login before the server has
     * used it may refresh the login state, refreshing pauses until `start()` is called again.
     * Rejects with `wx.login`'s fail result `{errMsg}`.
     */
    async getCode(options?: { refill?: boolean }): Promise<string> {
      const refill = !options || options.refill !== false;
      let code = take(refill);
      if (!code && fetching) {
        await fetching;
        code = take(refill);
      }
      // A code for encryptedData must predate the tap: never a wx.login now (refill: false).
      return code || (refill ? wxLogin(wx) : Promise.reject({ errMsg: 'no code kept before the tap' }));
    },

    /**
     * Starts keeping a fresh code: `wx.login` at once (unless a fresh code is kept or one is being
     * fetched), then every `interval` ms, and on app show when the code is stale. Reference
     * counted: returns a stop function; the timer stops when every caller has stopped. Calling a
     * stop twice is harmless.
     */
    start(): () => void {
      paused = false;
      if (!refs++ && wx.onAppShow) wx.onAppShow(onAppShow);
      // A fresh code kept (a page shown again within the interval): refresh it when it turns stale.
      if (isFresh()) schedule();
      else refresh();
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        if (!--refs) {
          if (wx.offAppShow) wx.offAppShow(onAppShow);
          schedule();
        }
      };
    },
  };
}
