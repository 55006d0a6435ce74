export default defineAppConfig({
  pages: ['pages/index/index', 'pages/login/index'],
  window: {
    navigationBarTitleText: 'wx-login-kit',
  },
})
