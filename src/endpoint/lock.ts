// Serialises work per key (here: the host veth name, which is derived from the
// attachment, so ADD/DEL/CHECK of one attachment and GC's deletion of its veth
// never overlap), and tracks what is running so stop() can wait for it.

export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly running = new Set<Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    this.running.add(tail);
    void tail.then(() => {
      this.running.delete(tail);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running. */
  has(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves when everything queued so far has finished (or after timeoutMs). */
  async idle(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = Promise.all([...this.running]).then(() => true);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }
}
