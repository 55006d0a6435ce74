import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { defineConfig } from 'vite'
import uni from '@dcloudio/vite-plugin-uni'

// uni-app copies native mini program components only from src/wxcomponents, never from
// node_modules, so bring the kit's <login-button> there before every build (it is gitignored).
const kit = dirname(createRequire(import.meta.url).resolve('wx-login-kit/package.json'))
rmSync('src/wxcomponents/login-button', { recursive: true, force: true })
cpSync(join(kit, 'components/login-button'), 'src/wxcomponents/login-button', {
  recursive: true,
  filter: (src) => !src.endsWith('.d.ts'),
})

export default defineConfig({
  plugins: [uni()],
})
