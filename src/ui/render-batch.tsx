/** Renders a batch live with ink. */
import { render } from "ink";
import type { TaskEvent } from "../core/run-events.js";
import { BatchView, type BatchRow } from "./BatchView.js";

export function liveBatch(
  tasks: { idx: number; repo: string }[],
  budgetUsd: number,
): { emit: (e: TaskEvent) => void; done: () => Promise<void> } {
  const rows: BatchRow[] = tasks.map((t) => ({ idx: t.idx, repo: t.repo }));
  const started = Date.now();
  const view = () => (
    <BatchView rows={rows.map((r) => ({ ...r }))} budgetUsd={budgetUsd} elapsedMs={Date.now() - started} />
  );
  const app = render(view());
  const timer = setInterval(() => app.rerender(view()), 250);
  timer.unref();
  return {
    emit: (e) => {
      const row = rows.find((r) => r.idx === e.idx);
      if (row) row.last = e;
      app.rerender(view());
    },
    done: async () => {
      clearInterval(timer);
      app.rerender(view());
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
