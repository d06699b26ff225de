/** The masking step of the record path: the default policy, resolved once at start. */
import { maskRecord } from '../mask/mask-record.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy } from '../mask/policy.ts';
import type { CallRecord } from '../../record/record.ts';

export function createRecordMasker(policy: MaskPolicy = DEFAULT_MASK_POLICY): (record: CallRecord) => CallRecord {
  return (record) => maskRecord(record, policy);
}
