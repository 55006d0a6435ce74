export default definePageConfig({
  navigationBarTitleText: 'Log in',
  // Taro copies the component from node_modules/wx-login-kit/components/login-button.
  usingComponents: {
    'login-button': 'wx-login-kit/components/login-button/index',
  },
})
