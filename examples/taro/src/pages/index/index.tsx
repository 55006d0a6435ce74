import { useState } from 'react'
import { useLoad } from '@tarojs/taro'
import { Navigator, Text, View } from '@tarojs/components'
import { auth } from '../../auth'

export default function Index() {
  const [text, setText] = useState('Loading...')

  useLoad(async () => {
    try {
      const res = await auth.request<{ openid: string }>({ url: '/api/me' })
      setText(res.data.openid)
    } catch (err) {
      setText(err instanceof Error ? err.message : String(err))
    }
  })

  return (
    <View style={{ padding: '16px' }}>
      <Text id='openid'>{text}</Text>
      <Navigator url='/pages/login/index'>Log in with phone number</Navigator>
    </View>
  )
}
