// miniprogram-simulate's typings lack these, though they exist at runtime (see shared/TESTING.md).
import 'j-component';

declare module 'j-component' {
  interface RootComponent<TData, TProperty, TMethod> {
    triggerPageLifeTime(name: 'show' | 'hide' | 'resize'): void;
  }
}
