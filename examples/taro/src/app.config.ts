export default defineAppConfig({
  // QQ has no phone-number button (open-type getPhoneNumber): the login page is left out there.
  pages: process.env.TARO_ENV === 'qq' ? ['pages/index/index'] : ['pages/index/index', 'pages/login/index'],
  window: {
    navigationBarTitleText: 'wx-login-kit',
  },
})
