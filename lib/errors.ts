/**
 * Base of every component's error catalog. Each component declares its codes
 * (`INJ_ERR_*`, `SC_ERR_*`, `COL_ERR_*`, `CA_ERR_*`, ...) in its own `errors.ts`
 * and throws `MeshtapError`s carrying one of them, with the underlying `cause`.
 * Expected outcomes (skip reasons, export results) are values, never errors.
 */
export class MeshtapError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MeshtapError';
    this.code = code;
  }
}

export function isMeshtapError(err: unknown, code?: string): err is MeshtapError {
  return err instanceof MeshtapError && (code === undefined || err.code === code);
}

/** A short, human description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof MeshtapError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
