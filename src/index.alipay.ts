/**
 * wx-login-kit for Alipay mini programs (`my`): everything `wx-login-kit` exports, and the adapter
 * that puts `my` behind the `wx` interface the kit speaks (src/alipay.ts). A separate entry so that
 * WeChat's and Douyin's bundles carry none of it: `wx-login-kit/uni` resolves `wx-login-kit` here in
 * an mp-alipay build; a Taro `--type alipay` build aliases it in its config (README); a native
 * Alipay project imports `wx-login-kit/alipay` itself.
 */
import { fromAlipay } from './alipay.js';
import { adapters } from './platform.js';

adapters.my = fromAlipay;

export * from './index.js';
export { fromAlipay } from './alipay.js';
export type { MyLike } from './alipay.js';
