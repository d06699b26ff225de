/**
 * The capture worker's entry (a worker thread of the sidecar): parsing, pairing, record
 * building, masking and encoding happen here, off the forwarding event loop.
 */
export {};
