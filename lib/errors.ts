/**
 * Base of every component's error catalog. Each component declares its codes
 * (`INJ_ERR_*`, `SC_ERR_*`, `COL_ERR_*`, `CA_ERR_*`, ...) once, with `defineErrors`, in its
 * own `errors.ts` (or `<part>-errors.ts`), and throws `MeshtapError`s carrying one of them,
 * with the underlying `cause`. `npm run docs:errors` turns the catalogs into docs/errors.md.
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

/** One code of a catalog. The texts are for docs/errors.md; the thrown message says what exactly happened. */
export interface ErrorSpec {
  /** What the code means, in one sentence. */
  readonly summary: string;
  /** What the reader of the log line or HTTP body should do about it. */
  readonly action: string;
  /** The HTTP status of answers that carry the code, where it reaches an HTTP client. */
  readonly httpStatus?: number;
  /** The process exit status when the code ends a `meshtap` command, where it is not 1. */
  readonly exitCode?: number;
}

export interface ErrorCatalogInfo {
  /** The component folder that owns the codes (`certs`, `collector`, ...). */
  readonly component: string;
  /** Which part of the component raises them, for the docs' heading. */
  readonly title: string;
  /** The prefix every code of the catalog starts with (`CA_ERR_`). */
  readonly prefix: string;
}

export interface ErrorCatalog<C extends string = string> extends ErrorCatalogInfo {
  /** Each code under its own name. Catalog files also export each code as a plain constant. */
  readonly codes: { readonly [K in C]: K };
  readonly specs: { readonly [K in C]: ErrorSpec };
  /** A `MeshtapError` with the code; `cause` is set only when given. */
  create(code: C, message: string, cause?: unknown): MeshtapError;
  /** Whether the code belongs to this catalog. */
  has(code: string): code is C;
  /** The declared HTTP status of a code of this catalog, if any. */
  httpStatus(code: string): number | undefined;
  /** The declared exit status of a code of this catalog, if any. */
  exitCode(code: string): number | undefined;
}

/** The union of a catalog's codes: `type CaErrorCode = ErrorCodeOf<typeof caErrors>`. */
export type ErrorCodeOf<T> = T extends ErrorCatalog<infer C> ? C : never;

const catalogs = new WeakSet<object>();

/**
 * Declares a catalog: each key is a code, declared once with its meaning. The file exports the
 * code constants it uses as keys (`export const X_ERR_A = 'X_ERR_A'`, so call sites and
 * `isMeshtapError(err, X_ERR_A)` stay plain strings). Prefixes, constants and uniqueness across
 * catalogs are checked by the docs test, which sees every catalog.
 */
export function defineErrors<const S extends Record<string, ErrorSpec>>(info: ErrorCatalogInfo, specs: S): ErrorCatalog<keyof S & string> {
  type C = keyof S & string;
  const codes = Object.freeze(Object.fromEntries(Object.keys(specs).map((code) => [code, code]))) as { readonly [K in C]: K };
  const frozenSpecs = Object.freeze(Object.fromEntries(Object.entries(specs).map(([code, spec]) => [code, Object.freeze({ ...spec })])));
  const own = (code: string): ErrorSpec | undefined => (Object.hasOwn(frozenSpecs, code) ? frozenSpecs[code] : undefined);
  const catalog: ErrorCatalog<C> = Object.freeze({
    component: info.component,
    title: info.title,
    prefix: info.prefix,
    codes,
    specs: frozenSpecs as { readonly [K in C]: ErrorSpec },
    create: (code: C, message: string, cause?: unknown) => new MeshtapError(code, message, cause === undefined ? undefined : { cause }),
    has: (code: string): code is C => own(code) !== undefined,
    httpStatus: (code: string) => own(code)?.httpStatus,
    exitCode: (code: string) => own(code)?.exitCode,
  });
  catalogs.add(catalog);
  return catalog;
}

export function isErrorCatalog(value: unknown): value is ErrorCatalog {
  return typeof value === 'object' && value !== null && catalogs.has(value);
}

/** Codes shared by every `meshtap` command (the CLI helpers in `cli.ts`). */
export const CLI_ERR_USAGE = 'CLI_ERR_USAGE';
/** The exit status of every usage error (any other failure exits 1): `failureExitCode` in `cli.ts`. */
export const USAGE_EXIT_CODE = 2;
export const CLI_ERR_NOT_BUILT = 'CLI_ERR_NOT_BUILT';

export const cliErrors = defineErrors(
  { component: 'lib', title: 'command line (every `meshtap` command)', prefix: 'CLI_ERR_' },
  {
    [CLI_ERR_USAGE]: {
      summary: 'A flag, argument or environment variable of a `meshtap` command is missing, unknown or has a value the command cannot use.',
      action: 'Read the message (it names the flag and the value); run `meshtap <command> --help` for usage.',
      exitCode: USAGE_EXIT_CODE,
    },
    [CLI_ERR_NOT_BUILT]: {
      summary: 'The compiled pod entry (`dist/meshtap-pod.js`, what sidecars and init containers run) is missing.',
      action: 'Run `npm run build` (`npm ci` runs it).',
    },
  },
);

