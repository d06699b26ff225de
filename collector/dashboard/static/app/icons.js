// Inline SVG icons: no icon font or emoji font needed on the viewer's machine.
import { html } from './html.js';

/** The mesh mTLS mark. */
export function LockIcon() {
  return html`<svg class="mesh-lock" viewBox="0 0 16 16" role="img" aria-label="mesh mTLS"><title>meshtap mTLS between the sidecars</title><path fill="currentColor" d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2h.5A1.5 1.5 0 0 1 13.5 8.5v5A1.5 1.5 0 0 1 12 15H4a1.5 1.5 0 0 1-1.5-1.5v-5A1.5 1.5 0 0 1 4 7zm1.5 0h4V5a2 2 0 0 0-4 0z"/></svg>`;
}
