/** Renders a run's events live with ink; returns the emit function and a way to finish. */
import { render } from "ink";
import type { RunEvent } from "../core/run-events.js";
import { RunView } from "./RunView.js";

export function liveRun(): { emit: (e: RunEvent) => void; done: () => Promise<void> } {
  const events: RunEvent[] = [];
  const started = Date.now();
  const app = render(<RunView events={events} elapsedMs={0} />);
  const timer = setInterval(() => app.rerender(<RunView events={[...events]} elapsedMs={Date.now() - started} />), 250);
  timer.unref();
  return {
    emit: (e) => {
      events.push(e);
      app.rerender(<RunView events={[...events]} elapsedMs={Date.now() - started} />);
    },
    done: async () => {
      clearInterval(timer);
      app.rerender(<RunView events={[...events]} elapsedMs={Date.now() - started} />);
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
