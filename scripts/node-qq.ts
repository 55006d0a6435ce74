/**
 * QQ's `qq` for running a BUILT mini program in Node (npm run check:examples). QQ's API is shaped
 * like WeChat's (`qq.login` -> `{code}`: https://q.qq.com/wiki/develop/miniprogram/API/open_port/port_login.html;
 * `qq.request` -> `{statusCode, header, data}` for every HTTP status:
 * https://q.qq.com/wiki/develop/miniprogram/frame/basic_ability/basic_network.html), which the Node
 * `tt` of node-tt.ts already is: this is that object under QQ's names. `qq.login` gets a code from
 * the WeChat API emulator, which plays QQ's server too (api.q.qq.com's jscode2session answers as
 * WeChat's does); the appid comes from `qq.getAccountInfoSync()`, as on WeChat. No typings of
 * `qq` are published on npm, so the shapes are WeChat's.
 */
import { createNodeTt, type NodePlatformOptions } from './node-tt';

/** `codeOf` plays QQ's server: the WeChat emulator's `issueCode(appid, user)`. */
export function createNodeQq(opts: NodePlatformOptions, codeOf: (appid: string, user: string) => string) {
  const { tt, storage } = createNodeTt({ ...opts, onTrace: (e) => opts.onTrace?.({ ...e, api: e.api.replace(/^tt\./, 'qq.') }) }, (appid, user) => ({ code: codeOf(appid, user), anonymousCode: '' }));
  const { getEnvInfoSync: _douyinOnly, ...api } = tt;
  const qq = Object.assign(api, { getAccountInfoSync: () => ({ miniProgram: { appId: opts.appid, envVersion: 'develop', version: '' } }) });
  return { qq, storage };
}
