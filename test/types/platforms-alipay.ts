// Alipay's own typings (@mini-types/alipay): its global `my` is what the kit's adapter takes.
import { createAuth, fromAlipay, type MyLike } from 'wx-login-kit/alipay';

const api: MyLike = my;
export const auth = createAuth({ baseURL: 'https://api.example.com', wx: fromAlipay(my) });
export { api };
