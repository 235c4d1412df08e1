/** Renders a run's events live with ink; returns the emit function and a way to finish. */
import { render } from "ink";
import type { RunEvent } from "../core/run-events.js";
import { RunView } from "./RunView.js";

/** `capUsd`: the plan's cap, shown from the first frame (before the run's own start event). */
export function liveRun(capUsd: number): { emit: (e: RunEvent) => void; done: () => Promise<void> } {
  const events: RunEvent[] = [];
  const started = Date.now();
  const view = () => <RunView events={[...events]} elapsedMs={Date.now() - started} capUsd={capUsd} />;
  const app = render(view());
  const timer = setInterval(() => app.rerender(view()), 250);
  timer.unref();
  return {
    emit: (e) => {
      events.push(e);
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
