/* Small file-system helpers shared by the run file, checkpoints and the CLI: directories, and
 * the fsync/rename steps that make a file's appearance under its final name durable. */
#pragma once

/* mkdir -p; returns 0, or -1 with a message naming the path. */
int gsvae_mkdir_p(const char *path, char *err);
/* fsync of a file or a directory by path; returns 0, or -1 with a message naming it. */
int gsvae_fsync_path(const char *path, char *err);
/* rename(from, to), then fsync of to's directory so the new name survives a crash. */
int gsvae_rename_durable(const char *from, const char *to, char *err);
