/** A tiny typed event emitter (the shape of mitt): `on` returns its own unsubscribe. */
export function createEmitter<Events extends object>() {
  const listeners: { [K in keyof Events]?: Array<(payload: Events[K]) => void> } = {};

  return {
    on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
      const list = (listeners[event] = listeners[event] || []);
      list.push(listener);
      return () => {
        const i = list.indexOf(listener);
        if (i > -1) list.splice(i, 1);
      };
    },

    emit<K extends keyof Events>(event: K, payload: Events[K]) {
      (listeners[event] || []).slice().forEach((listener) => {
        try {
          listener(payload);
        } catch (err) {
          // A broken listener must not break a login in progress; surface it on its own tick.
          setTimeout(() => {
            throw err;
          });
        }
      });
    },
  };
}
