/*
 * backup.h - `umbractl backup DEST`: a consistent copy of a data directory,
 * taken while umbrad runs and serves.
 *
 * DEST becomes a data directory of its own: umbra.db, copied with SQLite's
 * online backup API from one read snapshot, and the key and certificate
 * files a restore needs (ca.pem and ca.key, which signed every device
 * certificate; server.pem and server.key, which devices already trust;
 * umbractl.pem and umbractl.key). Restoring is starting umbrad with
 * --data-dir DEST, or moving DEST into place. The copy is built in a
 * temporary directory beside DEST and renamed at the end, so DEST exists
 * only once it is complete.
 */
#ifndef UMBRA_BACKUP_H
#define UMBRA_BACKUP_H

/* argv holds what follows "backup". Returns the exit status: 0, 1 (failed)
 * or 2 (usage). */
int backup_main(const char *data_dir, int argc, char **argv);

#endif
