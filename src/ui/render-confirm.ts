/** A yes/no approval in the terminal (the ink ApprovalPrompt: an explicit key, never Enter alone). */
export async function askYesNo(): Promise<boolean> {
  const { render } = await import("ink");
  const { createElement } = await import("react");
  const { ApprovalPrompt } = await import("./ApprovalPrompt.js");
  return new Promise((resolve) => {
    const app = render(
      createElement(ApprovalPrompt, {
        canApprove: true,
        canSwitch: false,
        onAnswer: (a) => {
          app.unmount();
          resolve(a === "approve");
        },
      }),
    );
  });
}
