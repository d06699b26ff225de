/** `meshtap init` applied for real with the nft backend (see helpers/apply-scenario.ts). */
import t from 'tap';
import { applyScenario } from './helpers/apply-scenario.ts';

void t.test('apply, re-apply, converge and clean up with the nft backend', (t) => applyScenario(t, 'nft'));
