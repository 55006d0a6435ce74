import type { PropsWithChildren } from 'react'
import Taro, { useLaunch } from '@tarojs/taro'
import { auth } from './auth'

function App({ children }: PropsWithChildren) {
  useLaunch(() => {
    // Logs in when there is no stored token; Taro's app object has no globalData to mirror into.
    auth.launch(Taro.getApp())
  })
  return children
}

export default App
