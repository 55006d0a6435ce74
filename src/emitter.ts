/** A tiny typed event emitter (the shape of mitt): `on` returns its own unsubscribe. */
export function createEmitter<Events extends object>() {
  const listeners: { [K in keyof Events]?: Array<(payload: Events[K]) => void> } = {};

  return {
    on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
      const list = (listeners[event] = listeners[event] || []);
      list.push(listener);
      let on = true;
      // Once only: a second call would remove another subscription of the same function.
      return () => {
        if (on) list.splice(list.indexOf(listener), 1);
        on = false;
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
