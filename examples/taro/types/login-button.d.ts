import type { ReactNode } from 'react'
import type { LoginButtonFailEvent, LoginButtonSuccessEvent } from 'wx-login-kit'

// The kit's native <login-button>, declared in a page's usingComponents: Taro passes it through
// as is, and turns onSuccess / onFail into bindsuccess / bindfail.
declare global {
  namespace JSX {
    interface IntrinsicElements {
      'login-button': {
        id?: string
        /** 'getPhoneNumber' (default), 'getRealtimePhoneNumber' or 'getUserInfo'. */
        openType?: string
        /** Server endpoint; empty means the auth options' phonePath or profilePath. */
        path?: string
        onSuccess?: (e: LoginButtonSuccessEvent<{ purePhoneNumber: string }>) => void
        onFail?: (e: LoginButtonFailEvent) => void
        children?: ReactNode
      }
    }
  }
}
