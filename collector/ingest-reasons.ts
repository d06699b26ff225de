import type { RecordRejectReason } from '../record/codec.ts';

export const REJECT_REASONS: readonly RecordRejectReason[] = [
  'missing_id',
  'bad_protocol',
  'bad_observer',
  'bad_time',
  'missing_endpoint',
  'missing_field',
  'bad_value',
  'identity_mismatch',
  'rate_limited',
];

/** Why a whole batch was acknowledged with an error. */
export type BatchRejectReason = 'undecodable' | 'store_failed' | 'too_large';
export const DROPPED_BATCH_REASONS: readonly BatchRejectReason[] = ['undecodable', 'store_failed', 'too_large'];
