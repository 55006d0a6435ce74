import { defineConfig } from '@tarojs/cli'

// Taro's template config, trimmed to what a weapp build uses; see https://docs.taro.zone/docs/config-detail
export default defineConfig({
  projectName: 'wx-login-kit-example-taro',
  designWidth: 750,
  deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
  sourceRoot: 'src',
  outputRoot: 'dist',
  framework: 'react',
  compiler: 'webpack5',
  cache: { enable: false },
  mini: {},
})
