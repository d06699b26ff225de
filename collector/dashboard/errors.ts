/** The dashboard's error codes (part of the collector's `COL_ERR_*` codes). */
import { defineErrors } from '../../lib/errors.ts';

export const COL_ERR_DASHBOARD_ASSET = 'COL_ERR_DASHBOARD_ASSET';
export const COL_ERR_DASHBOARD_CLUSTER = 'COL_ERR_DASHBOARD_CLUSTER';

export const dashboardErrors = defineErrors(
  { component: 'collector', title: 'the dashboard', prefix: 'COL_ERR_' },
  {
    [COL_ERR_DASHBOARD_ASSET]: {
      summary: 'A file the dashboard serves is missing or unreadable at start-up (a broken install), or its URL prefix is not a path.',
      action: 'Reinstall meshtap (the dashboard files ship with the package); give a prefix like `/ui`.',
    },
    [COL_ERR_DASHBOARD_CLUSTER]: {
      summary: '`meshtap dashboard` could not ask the Kubernetes API for the collector pod (unreachable, refused, or no permission to list pods).',
      action: 'Check the kubeconfig context (`--context`) and that `kubectl get pods -n meshtap-system` works with it.',
    },
  },
);

