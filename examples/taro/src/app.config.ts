export default defineAppConfig({
  // <login-button> has WeChat's and Douyin's templates (not yet Alipay's): the login page is in the weapp and tt builds.
  pages: process.env.TARO_ENV === 'alipay' ? ['pages/index/index'] : ['pages/index/index', 'pages/login/index'],
  window: {
    navigationBarTitleText: 'wx-login-kit',
  },
})
