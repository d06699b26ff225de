/**
 * The webhook's Prometheus metrics, on a registry of its own so that several servers in one
 * process (tests, the controller running other services) never collide on the global one.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReviewOutcome } from './admission.ts';

export interface WebhookMetrics {
  registry: Registry;
  reviews: Counter<'outcome' | 'reason'>;
  duration: Histogram<'outcome'>;
  /** Counts one review once; a review with several skip reasons is labelled with the first. */
  recordReview(outcome: ReviewOutcome, reasons: readonly string[], seconds: number): void;
}

export interface WebhookMetricsOptions {
  /** Also export process/Node.js metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

export function createWebhookMetrics(options: WebhookMetricsOptions = {}): WebhookMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const reviews = new Counter({
    name: 'meshtap_webhook_reviews_total',
    help:
      'Admission reviews answered, by outcome (injected, skipped, allowed, error) and primary reason code; ' +
      'bad_request: any request answered with a WH_ERR_* error body instead, with that code',
    labelNames: ['outcome', 'reason'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'meshtap_webhook_review_duration_seconds',
    help: 'Time to answer an admission review, from body parsed to response built, including the namespace lookup',
    labelNames: ['outcome'] as const,
    // The API server gives the webhook timeoutSeconds (5 s); the interesting range is well below.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    reviews,
    duration,
    recordReview(outcome, reasons, seconds) {
      reviews.inc({ outcome, reason: reasons[0] ?? 'none' });
      duration.observe({ outcome }, seconds);
    },
  };
}
