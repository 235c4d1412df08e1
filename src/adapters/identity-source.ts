/** The operating-system user name, for identities and audit actors when nothing else names one. */
import { userInfo } from "node:os";

export function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown"; // no passwd entry (a container running as an arbitrary uid)
  }
}
