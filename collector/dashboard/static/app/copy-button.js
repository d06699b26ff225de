// A small button that copies a value (a call id, a trace id) to the clipboard and says so for a
// moment. A plain <button>: Tab reaches it, Enter and Space press it.
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

/** How long the button says "Copied" (or that copying failed). */
const SHOWN_MS = 1500;

/**
 * @param {{ text: string, what: string }} props the value, and what it is ("call id")
 */
export function CopyButton({ text, what }) {
  const [done, setDone] = useState(/** @type {'copied' | 'failed' | undefined} */ (undefined));
  useEffect(() => {
    if (!done) return undefined;
    const timer = setTimeout(() => setDone(undefined), SHOWN_MS);
    return () => clearTimeout(timer);
  }, [done]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone('copied');
    } catch {
      // No clipboard (a page not served over HTTPS or localhost) or no permission.
      setDone('failed');
    }
  };
  return html`<button type="button" class=${`copy-button${done ? ` ${done}` : ''}`} aria-label=${`Copy the ${what}`} title=${`Copy the ${what}: ${text}`} onClick=${copy}>
${done === 'copied' ? 'Copied' : done === 'failed' ? 'Copy failed' : 'Copy'}</button>
    <span class="visually-hidden" role="status">${done === 'copied' ? `${what} copied` : done === 'failed' ? `could not copy the ${what}` : ''}</span>`;
}
