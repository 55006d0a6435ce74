import { defineConfig } from '@tarojs/cli'

const platform = process.env.TARO_ENV

// Taro's template config, trimmed to what a weapp, tt, alipay or qq build uses; see https://docs.taro.zone/docs/config-detail
export default defineConfig({
  projectName: 'wx-login-kit-example-taro',
  designWidth: 750,
  deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
  sourceRoot: 'src',
  outputRoot: `dist/${platform}`,
  // Douyin, Alipay and QQ are Taro platform plugins; WeChat is built in.
  plugins: ['@tarojs/plugin-platform-tt', '@tarojs/plugin-platform-alipay', '@tarojs/plugin-platform-qq'],
  framework: 'react',
  compiler: 'webpack5',
  cache: { enable: false },
  mini: {
    webpackChain(chain) {
      // Alipay's `my` needs the kit's Alipay adapter: `wx-login-kit` is `wx-login-kit/alipay` there
      // (the `$` keeps `wx-login-kit/...` paths as they are).
      if (platform === 'alipay') chain.resolve.alias.set('wx-login-kit$', 'wx-login-kit/alipay')
    },
  },
})
