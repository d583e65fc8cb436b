/**
 * A Redis URL safe to print: the password (and a username-only secret) replaced by `***`.
 * Anything that does not parse as a URL is hidden whole, since we cannot tell where a secret is.
 */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable redis url>';
  }
  if (parsed.password) parsed.password = '***';
  else if (parsed.username && !parsed.password) parsed.username = '***';
  return parsed.toString();
}

/** Hides every `redis://user:pass@` secret found inside free text, such as an error message. */
export function redactSecretsInText(text: string): string {
  return text.replace(/(rediss?:\/\/)([^@\s/]*)@/g, (_m, scheme: string, auth: string) => {
    const user = auth.includes(':') ? auth.slice(0, auth.indexOf(':')) : '';
    return `${scheme}${user}:***@`;
  });
}
