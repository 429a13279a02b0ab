/* The CPU backend (cpu_backend.c): the model on host memory, a rank's chunks on its own threads. */
#pragma once
#include "model/backend.h"

/* max_rows: the most rows computed at once (the largest chunk); max_local_chunks: the most chunks
 * a rank gets. */
gsvae_backend *gsvae_cpu_backend_create(const gsvae_config *config, const gsvae_layout *layout,
                                        const gsvae_dataset *train, const gsvae_dataset *test, int max_rows,
                                        int max_local_chunks);
