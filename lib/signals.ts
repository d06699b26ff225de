/**
 * Waiting for the signal that stops a long-running command (SIGTERM from the kubelet, Ctrl-C
 * at a terminal). One copy for the sidecar and the lab. The listeners stay until `dispose`,
 * so a second signal while the caller is still starting up or cleaning up is absorbed instead
 * of killing the process half-way; after `dispose` a signal has its default effect again.
 */

export interface SignalWait {
  /** The first of the signals received. */
  readonly promise: Promise<NodeJS.Signals>;
  /** Removes the listeners (idempotent). */
  dispose(): void;
}

export function waitForSignal(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): SignalWait {
  let on: (signal: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((resolve) => {
    on = (signal) => resolve(signal);
  });
  for (const s of signals) process.on(s, on);
  return {
    promise,
    dispose() {
      for (const s of signals) process.off(s, on);
    },
  };
}
