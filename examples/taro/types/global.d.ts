/// <reference types="@tarojs/taro" />
/// <reference types="wx-login-kit/taro" />

declare namespace NodeJS {
  interface ProcessEnv {
    /** The platform being built for. */
    TARO_ENV: 'weapp' | 'swan' | 'alipay' | 'h5' | 'rn' | 'tt' | 'quickapp' | 'qq' | 'jd'
  }
}
