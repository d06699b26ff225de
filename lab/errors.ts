/** The lab's error catalog. */
import { defineErrors } from '../lib/errors.ts';

export const LAB_ERR_SCENARIO = 'LAB_ERR_SCENARIO';
export const LAB_ERR_NOT_ROOT = 'LAB_ERR_NOT_ROOT';
export const LAB_ERR_ALREADY_UP = 'LAB_ERR_ALREADY_UP';
export const LAB_ERR_NOT_UP = 'LAB_ERR_NOT_UP';
export const LAB_ERR_POD_NOT_FOUND = 'LAB_ERR_POD_NOT_FOUND';
export const LAB_ERR_POD_FAILED = 'LAB_ERR_POD_FAILED';
export const LAB_ERR_PROCESS_FAILED = 'LAB_ERR_PROCESS_FAILED';
export const LAB_ERR_PORT_IN_USE = 'LAB_ERR_PORT_IN_USE';
export const LAB_ERR_ADMISSION = 'LAB_ERR_ADMISSION';
export const LAB_ERR_STATE = 'LAB_ERR_STATE';

export const labErrors = defineErrors(
  { component: 'lab', title: '`meshtap lab`', prefix: 'LAB_ERR_' },
  {
    [LAB_ERR_SCENARIO]: {
      summary: 'The scenario is missing or its YAML is invalid or inconsistent (undeclared namespace, clashing cluster IPs, no pods).',
      action: 'Fix the file and object the message names, or pick a built-in scenario.',
    },
    [LAB_ERR_NOT_ROOT]: {
      summary: 'The lab command needs root: it creates network namespaces, links and iptables rules.',
      action: 'Run it with sudo; `meshtap check` lists what else the lab needs.',
    },
    [LAB_ERR_ALREADY_UP]: {
      summary: 'A lab is already up (or recorded in the state directory).',
      action: 'Use it, or remove it first with `meshtap lab down`.',
    },
    [LAB_ERR_NOT_UP]: {
      summary: 'No lab is up.',
      action: 'Start one with `meshtap lab up`.',
    },
    [LAB_ERR_POD_NOT_FOUND]: {
      summary: 'The pod named on the command line is not in the lab, or the name matches several pods.',
      action: 'Name one of the pods the message lists (`meshtap lab status` shows them all).',
    },
    [LAB_ERR_POD_FAILED]: {
      summary: 'A pod did not become ready: an init container or postStart hook failed, or a probe never passed.',
      action: 'Read the log tail in the message (and the log file it names).',
    },
    [LAB_ERR_PROCESS_FAILED]: {
      summary: 'A lab process (webhook, controller, collector, a helper) exited or did not report ready in time.',
      action: 'Read the log tail in the message (and the log file it names).',
    },
    [LAB_ERR_PORT_IN_USE]: {
      summary: 'A port the lab needs on the host is in use or unusable.',
      action: 'Stop what listens there (`ss -ltnp \'sport = :PORT\'`) or choose another port.',
    },
    [LAB_ERR_ADMISSION]: {
      summary: 'The admission review of a pod failed: the webhook refused it, did not answer, or answered something unusable.',
      action: 'Read the webhook\'s answer in the message and the webhook\'s log in the lab.',
    },
    [LAB_ERR_STATE]: {
      summary: 'The lab\'s state file cannot be read, created or parsed.',
      action: 'Check the state directory the message names; `meshtap lab down` still removes a lab by its names.',
    },
  },
);

