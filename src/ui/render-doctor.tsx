/** Runs the doctor checks under an ink view that updates as each check finishes. */
import { render } from "ink";
import { runChecks, type Check, type CheckResult } from "../app/doctor.js";
import { DoctorView, type DoctorRow } from "./DoctorView.js";

export async function renderDoctor(checks: Check[], timeoutMs: number): Promise<CheckResult[]> {
  const rows: DoctorRow[] = checks.map((c) => ({ name: c.name }));
  const app = render(<DoctorView rows={rows} />);
  const results = await runChecks(checks, timeoutMs, (i, result) => {
    rows[i] = { name: rows[i]!.name, result };
    app.rerender(<DoctorView rows={[...rows]} />);
  });
  app.unmount();
  await app.waitUntilExit();
  return results;
}
