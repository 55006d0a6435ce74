import { defineConfig } from 'vite'
import uni from '@dcloudio/vite-plugin-uni'
import { loginKitComponents } from 'wx-login-kit/uni'

export default defineConfig({
  // Copies the kit's <login-button> and <login-profile> into src/wxcomponents/ (gitignored), the
  // only place uni-app takes native components from, at every build.
  plugins: [loginKitComponents(), uni()],
})
