/// <reference types="miniprogram-api-typings" />

interface IAppOption {
  globalData: { token: string | null };
}
