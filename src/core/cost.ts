/** Cost classes: C0 is exactly $0; C1..C3 are below their configured bounds; C4 is the rest. */
export type CostClass = "C0" | "C1" | "C2" | "C3" | "C4";

export const COST_CLASS_LABEL: Record<CostClass, string> = { C0: "free", C1: "$", C2: "$$", C3: "$$$", C4: "$$$$" };

export interface CostClassBounds {
  C1: number;
  C2: number;
  C3: number;
}

export function costClassOf(usd: number, bounds: CostClassBounds): CostClass {
  if (usd <= 0) return "C0";
  if (usd < bounds.C1) return "C1";
  if (usd < bounds.C2) return "C2";
  if (usd < bounds.C3) return "C3";
  return "C4";
}

export function classRank(c: CostClass): number {
  return Number(c.slice(1));
}
