/**
 * `wx-login-kit/taro`: the kit's native components as JSX elements for Taro (React) with
 * TypeScript. Without it, `<login-button>` in a TSX page fails to compile with
 * "Property 'login-button' does not exist on type 'JSX.IntrinsicElements'".
 *
 *   // types/global.d.ts
 *   /// <reference types="wx-login-kit/taro" />
 *
 * Declare the component in the page's config (`usingComponents: { 'login-button':
 * 'wx-login-kit/components/login-button/index' }`); Taro passes it through and turns `onSuccess`
 * into `bindsuccess`. Props and events are the components' (see the README).
 */
import type { ReactNode } from 'react';
import type { LoginButtonFailEvent, LoginButtonSuccessEvent, LoginProfileFailEvent, WxEvent, WxObject } from 'wx-login-kit';

/**
 * What `POST /auth/phone` answers (wx-login-kit/server): the token and the phone fields. With
 * `openType="getUserInfo"` the answer is `{token, expiresIn, userInfo}` instead.
 */
export interface PhoneLoginAnswer {
  token: string;
  /** Seconds. */
  expiresIn: number;
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  [key: string]: unknown;
}

declare global {
  namespace JSX {
    interface IntrinsicElements {
      'login-button': {
        id?: string;
        className?: string;
        /** 'getPhoneNumber' (default), 'getRealtimePhoneNumber' or 'getUserInfo'. */
        openType?: 'getPhoneNumber' | 'getRealtimePhoneNumber' | 'getUserInfo';
        /** Name of the auth instance (`createAuth({ name })`). @default 'default' */
        auth?: string;
        /** Server endpoint; empty means the auth options' phonePath or profilePath. */
        path?: string;
        /** WeChat `<button>` look: 'default' | 'primary' | 'warn'. */
        type?: string;
        size?: string;
        plain?: boolean;
        disabled?: boolean;
        /** The server's answer: the plugin's `/auth/phone` answer for the phone open-types. */
        onSuccess?: (e: LoginButtonSuccessEvent<PhoneLoginAnswer>) => void;
        onFail?: (e: LoginButtonFailEvent) => void;
        /** The user agreed to the privacy guide with this tap. */
        onAgreeprivacy?: (e: WxEvent<WxObject>) => void;
        children?: ReactNode;
      };
      'login-profile': {
        id?: string;
        className?: string;
        /** Name of the auth instance (`createAuth({ name })`). @default 'default' */
        auth?: string;
        /** Where the avatar is uploaded (multipart, field `avatar`, answered `{id}`). @default '/api/avatar' */
        avatarPath?: string;
        /** Where `{nickname, avatarId?}` is POSTed. @default '/api/profile' */
        path?: string;
        avatarLabel?: string;
        nicknamePlaceholder?: string;
        /** The server's answer to the profile POST. */
        onSuccess?: (e: WxEvent<WxObject>) => void;
        onFail?: (e: LoginProfileFailEvent) => void;
        onAgreeprivacy?: (e: WxEvent<WxObject>) => void;
        /** The save button's label. */
        children?: ReactNode;
      };
    }
  }
}

