import { useState } from 'react'
import { Text, View } from '@tarojs/components'

export default function Login() {
  const [result, setResult] = useState('')

  return (
    <View style={{ padding: '16px' }}>
      <login-button
        id='phone-login'
        onSuccess={(e) => setResult(e.detail.purePhoneNumber)}
        onFail={(e) => setResult(e.detail.reason)}
      >
        Log in with phone number
      </login-button>
      <Text id='result'>{result}</Text>
    </View>
  )
}
