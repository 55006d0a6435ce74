/** A tiny typed event emitter (the shape of mitt): `on` returns its own unsubscribe. */
export function createEmitter<Events extends object>() {
  const listeners: { [K in keyof Events]?: Array<(payload: Events[K]) => void> } = {};

  return {
    on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
      (listeners[event] ??= []).push(listener);
      return () => {
        const list = listeners[event];
        const i = list ? list.indexOf(listener) : -1;
        if (list && i !== -1) list.splice(i, 1);
      };
    },

    emit<K extends keyof Events>(event: K, payload: Events[K]) {
      for (const listener of (listeners[event] ?? []).slice()) {
        try {
          listener(payload);
        } catch (err) {
          // A broken listener must not break a login in progress; surface it on its own tick.
          setTimeout(() => {
            throw err;
          });
        }
      }
    },
  };
}
