/** The dashboard's error codes (collector component). */
/** A file the dashboard serves is missing or unreadable at start-up (a broken install). */
export const COL_ERR_DASHBOARD_ASSET = 'COL_ERR_DASHBOARD_ASSET';
