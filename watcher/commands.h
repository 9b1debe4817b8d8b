/*
 * Subcommands of ivicli-certwatch. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and returns a sysexits(3)
 * exit status.
 */
#ifndef IVI_WATCHER_COMMANDS_H
#define IVI_WATCHER_COMMANDS_H

int cmd_watch(int argc, char **argv);   /* watch.c */
int cmd_notify(int argc, char **argv);  /* notify.c */
int cmd_status(int argc, char **argv);  /* status.c */
int cmd_check(int argc, char **argv);   /* check.c */
int cmd_keygen(int argc, char **argv);  /* keygen.c */

#endif /* IVI_WATCHER_COMMANDS_H */
