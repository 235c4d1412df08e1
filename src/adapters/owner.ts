/**
 * Who holds something: "HOST:PID" of a lanes process. Sandboxes (labels) and holds (the ledger)
 * record it, so that whatever a killed process left behind is noticed at once and cleaned up.
 */
import { hostname } from "node:os";

export function selfOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/** Is a "HOST:PID" owner a process on this machine that has died? */
export function ownerIsDead(owner: string): boolean {
  const i = owner.lastIndexOf(":");
  if (i < 0) return false;
  const [host, pid] = [owner.slice(0, i), Number(owner.slice(i + 1))];
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
