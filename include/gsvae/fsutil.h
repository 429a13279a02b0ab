/* Small file-system helpers shared by the run file, checkpoints and the CLI. */
#pragma once

/* mkdir -p; returns 0, or -1 with a message naming the path. */
int gsvae_mkdir_p(const char *path, char *err);
