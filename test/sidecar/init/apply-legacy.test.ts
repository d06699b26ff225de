/** `meshtap init` applied for real with the legacy backend (see helpers/apply-scenario.ts). */
import t from 'tap';
import { applyScenario } from './helpers/apply-scenario.ts';

void t.test('apply, re-apply, converge and clean up with the legacy backend', (t) => applyScenario(t, 'legacy'));
