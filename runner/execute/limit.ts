// Bounded concurrency through one helper: at most `n` tasks hold a slot at once, first come first served.
export interface Limiter {
  acquire(): Promise<() => void>;
  readonly size: number;
}

export function createLimiter(n: number): Limiter {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    size: n,
    acquire() {
      return new Promise((resolve) => {
        const grant = () => {
          let released = false;
          resolve(() => {
            if (!released) {
              released = true;
              release();
            }
          });
        };
        if (active < n) {
          active++;
          grant();
        } else {
          queue.push(grant);
        }
      });
    },
  };
}

/** Runs `fn` over `items` with at most `n` at a time, results in input order. */
export async function mapLimit<T, R>(items: T[], limiter: Limiter, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  return Promise.all(
    items.map(async (item, i) => {
      const release = await limiter.acquire();
      try {
        return await fn(item, i);
      } finally {
        release();
      }
    }),
  );
}
