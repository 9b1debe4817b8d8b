/*
 * The environment ACME clients give their post-renewal hooks: certbot's
 * RENEWED_LINEAGE, lego's LEGO_CERT_PATH and LEGO_CERT_KEY_PATH, and
 * acme.sh's CERT_PATH, CERT_KEY_PATH, CA_CERT_PATH and
 * CERT_FULLCHAIN_PATH. `ivicli-certwatch notify` never loads these
 * files into the server: it only checks that they are usable and that
 * they are the configured files, so a broken hook fails loudly.
 */
#ifndef CW_HOOKENV_H
#define CW_HOOKENV_H

#include <stddef.h>

#include "ivi_config.h"

/*
 * Checks the ACME client variables that are set. A variable that is set
 * but empty, names a missing or unreadable file, or a pair that does not
 * match fails: returns a sysexits status with one line naming the
 * variable and its value in errbuf. A usable variable that does not point
 * at the configured files only logs a warning. Sets *client to "certbot",
 * "lego", "acme.sh" or NULL when no variable is set. Returns 0 otherwise.
 */
int cw_hookenv_check(const struct ivi_config *cfg, const char **client, char *errbuf,
    size_t errlen);

#endif /* CW_HOOKENV_H */
