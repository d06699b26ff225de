/** `meshtap check`'s lab-state line: a running lab is fine, state left by a dead one is a warning. */
import t from 'tap';
import { labStateCheck } from '../../lab/check.ts';

const state = { pid: 4242, phase: 'ready', scenario: { name: 'shop' } };

void t.test('a running lab is ok, not a problem whose fix is lab down', async (t) => {
  const r = labStateCheck(state, true, (pid) => pid === 4242);
  t.equal(r.status, 'ok');
  t.match(r.detail, /a lab is up \(pid 4242, ready, scenario shop\): meshtap lab status shows it; lab up refuses a second one/);
});

void t.test('state of a lab whose process is gone, or a state directory alone, is a warning', async (t) => {
  const dead = labStateCheck(state, true, () => false);
  t.equal(dead.status, 'warn');
  t.match(dead.detail, /its process 4242 is gone/);
  t.match(dead.fix, /meshtap lab down/);
  t.equal(labStateCheck(undefined, true, () => false).status, 'warn');
  t.same([labStateCheck(undefined, false, () => false).status, labStateCheck(undefined, false, () => false).detail], ['ok', 'no lab is up']);
});
