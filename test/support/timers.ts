/** Runs fake timers until `p` settles, then returns it (handlers are attached first, so no unhandled rejection). */
export async function settle<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  await jest.runAllTimersAsync();
  return p;
}
