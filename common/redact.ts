// The one redactor: every secret the worker knows of, replaced by REDACTED wherever text leaves the
// worker (activity results and failures, hook output, notices, reports, configuration errors).
// Guarantees: a secret never comes back whole, as is or percent-encoded; where text was cut from a
// longer output, no piece of a secret straddling the cut survives either. Values shorter than
// MIN_SECRET are not treated as secrets: replacing every "ab" would make all output unreadable, and
// such a value protects nothing anyway.
// Pure: the caller says which environment holds the secrets. It reads the configuration by shape
// only, so config/config.ts can use it without an import cycle.

export const REDACTED = '[redacted]';
export const MIN_SECRET = 4;

/**
 * Environment variables whose values are secret by their name alone, configured or not (a worker
 * may hold credentials for tools it calls). Access key ids are identifiers, not secrets.
 */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY|SIGNING/i;

export class Redactor {
  /** Every form to replace, longest first, so a secret containing another is replaced whole. */
  private readonly forms: string[];
  private readonly pattern?: RegExp;

  constructor(secrets: Iterable<string | undefined>) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (!secret || secret.length < MIN_SECRET) continue;
      forms.add(secret);
      forms.add(encodeURIComponent(secret));
    }
    this.forms = [...forms].sort((a, b) => b.length - a.length);
    if (this.forms.length) this.pattern = new RegExp(this.forms.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  }

  /** This redactor's secrets and some more (a hook's own database password, a webhook's token). */
  with(secrets: Iterable<string | undefined>): Redactor {
    return new Redactor([...this.forms, ...secrets]);
  }

  /** The longest form replaced: how far a piece of a secret can reach into a cut edge. */
  get longest(): number {
    return this.forms[0]?.length ?? 0;
  }

  /**
   * Replaces every secret by REDACTED. When the text was cut from a longer output, a secret may
   * straddle the cut and leave a piece too short to recognise: such a piece is shorter than the
   * longest secret, so the characters that are not part of a recognised secret within that margin
   * of a cut edge are dropped (whole secrets found there are still shown as REDACTED).
   */
  text(text: string, cut: { start?: boolean; end?: boolean } = {}): string {
    if (!this.pattern) return text;
    const margin = this.longest - 1;
    const from = cut.start ? margin : 0;
    const to = cut.end ? text.length - margin : text.length;
    const plain = (start: number, end: number) => text.slice(Math.max(start, from), Math.min(end, to));
    let out = '';
    let last = 0;
    for (const match of text.matchAll(this.pattern)) {
      out += plain(last, match.index) + REDACTED;
      last = match.index + match[0].length;
    }
    return out + plain(last, text.length);
  }

  /** A copy of a JSON-like value with every string redacted (notices, reports, activity results). */
  deep<T>(value: T): T {
    if (!this.pattern) return value;
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.deep(v)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.deep(v)])) as T;
    return value;
  }

  /** The error itself, its message, stack, details and causes redacted: it becomes a failure in history. */
  error<E>(err: E): E {
    if (!this.pattern || !(err instanceof Error)) return err;
    err.message = this.text(err.message);
    if (err.stack) err.stack = this.text(err.stack);
    const withDetails = err as Error & { details?: unknown[] };
    if (Array.isArray(withDetails.details)) withDetails.details = this.deep(withDetails.details);
    if (err.cause) this.error(err.cause);
    return err;
  }
}

const isUrl = (value: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(value);

/** The password of a connection string or URL (user:password@, or ?password=), if any. */
function urlPassword(value: string): string[] {
  if (!isUrl(value)) return [];
  try {
    const url = new URL(value);
    const password = url.password;
    return [password, password && decodeURIComponent(password), url.searchParams.get('password') ?? ''].filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Every `…Env` field of the configuration, wherever it sits: each names a variable holding a
 * secret or a connection string. An access key id names its key, like a user name: no secret (and
 * redacting it would hide ordinary words that happen to be one).
 */
function envFields(value: unknown, key = ''): string[] {
  if (typeof value === 'string') return /Env$/.test(key) && key !== 'accessKeyIdEnv' ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => envFields(v));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => envFields(v, k));
  return [];
}

/**
 * The secrets of a worker: the values of the variables the configuration names in `…Env` fields
 * (tokens and keys whole; connection strings by their password, the rest of a URL is an address),
 * the passwords in webhook URLs, and every variable of the environment whose name says it is
 * secret or whose value is a URL with a password.
 */
export function workerSecrets(config: { hooks: Record<string, { type: string; url?: string }> }, env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  for (const name of new Set(envFields(config))) {
    const value = env[name];
    if (!value) continue;
    // A connection string is an address with a password in it: the address stays readable.
    secrets.push(...(isUrl(value) ? urlPassword(value) : [value]));
  }
  for (const hook of Object.values(config.hooks)) if (hook.url) secrets.push(...urlPassword(hook.url));
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_NAME.test(name)) secrets.push(value);
    secrets.push(...urlPassword(value));
  }
  return secrets;
}
