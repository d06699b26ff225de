/**
 * A promise with a deadline: a lookup the caller cannot cancel (a Kubernetes API call, a
 * namespace lookup on the admission path) must not hold the caller past its budget. One copy;
 * the timer is cleared as soon as the promise settles. It is not unref'd: a caller awaiting
 * the answer must get one, even when nothing else keeps the process alive.
 */

/**
 * Settles like `promise` when it settles within `ms`, else rejects with `onTimeout()`. The
 * underlying work is not cancelled; a late result is ignored.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}
