/** postgres://user:secret@host/db → postgres://user@host/db: passwords are never printed. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}
