// One of several processes hammering the same ledger: N reservations of AMOUNT against BUCKET,
// each fully charged (in two charges) and settled. Prints what it managed.
import { Ledger } from "../../dist/adapters/store/ledger.js";

const [path, n, amount, limit] = process.argv.slice(2);
const ledger = await Ledger.openAt(path);
const bucket = {
  key: "team:race:month:2026-11",
  scope: "team",
  id: "race",
  period: "month",
  unit: "usd",
  limit: Number(limit),
  kind: "hard",
  resetsAt: "2026-12-01T00:00:00.000Z",
};
let reserved = 0;
let denied = 0;
let charged = 0;
for (let i = 0; i < Number(n); i++) {
  try {
    const hold = ledger.reserve({
      runId: `r${process.pid}-${i}`,
      lane: "race",
      buckets: [bucket],
      caps: { usd: Number(amount) },
      ttlMs: 60_000,
    });
    reserved++;
    ledger.charge(hold.id, "usd", Number(amount) / 2, "first half");
    ledger.charge(hold.id, "usd", Number(amount) / 2, "second half");
    charged += Number(amount);
    ledger.settle(hold.id);
  } catch (err) {
    if (err.kind === "quota") denied++;
    else throw err;
  }
}
ledger.close();
process.stdout.write(JSON.stringify({ reserved, denied, charged }));
