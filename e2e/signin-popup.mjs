// Drives the edge's sign-in window that a click on `selector` opens: the sign-in form when it
// asks, the consent page when it asks, until the window closes itself (callback.html).
import { setTimeout as sleep } from "node:timers/promises";

export async function signInThroughPopup(page, selector, username, password, timeoutMs = 20_000) {
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.click(selector)]);
  const deadline = Date.now() + timeoutMs;
  let filled = false;
  while (!popup.isClosed()) {
    if (Date.now() > deadline) throw new Error(`the sign-in window is still open at ${popup.url()}`);
    try {
      if (!filled && (await popup.locator("#username").isVisible())) {
        await popup.fill("#username", username);
        await popup.fill("#password", password);
        await popup.click('button[type="submit"]');
        filled = true;
      }
      const allow = popup.locator('button[name="decision"][value="allow"]');
      if (await allow.isVisible()) await allow.click();
    } catch (e) {
      if (!popup.isClosed()) throw e;   // it closed between two steps: done
    }
    await sleep(100);
  }
}
