/** Codes of `meshtap controller` (the control-plane process); components keep their own (`WH_ERR_*`, `CA_ERR_*`). */

/** A flag or file the controller needs is missing or unusable. */
export const CTL_ERR_CONFIG = 'CTL_ERR_CONFIG';
/** The gRPC port could not be bound. */
export const CTL_ERR_LISTEN = 'CTL_ERR_LISTEN';
