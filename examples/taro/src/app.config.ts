export default defineAppConfig({
  // The login page's <login-button> is a WeChat component: the page is in the weapp build only.
  pages: process.env.TARO_ENV === 'weapp' ? ['pages/index/index', 'pages/login/index'] : ['pages/index/index'],
  window: {
    navigationBarTitleText: 'wx-login-kit',
  },
})
