/* A sweep point's state, kept beside its run in <run.dir>/sweep_point.txt, so that a requeued
 * or rerun sweep skips what is done and retries what failed, and `sweep --list` and `compare`
 * can tell each point's outcome. Written only by the rank 0 of the group training the point. */
#pragma once
#include "core/check.h"

typedef enum {
  GSVAE_POINT_TODO,        /* no file: never started */
  GSVAE_POINT_RUNNING,     /* started; a job killed outright leaves this (a rerun retries it) */
  GSVAE_POINT_DONE,        /* trained to `steps` */
  GSVAE_POINT_FAILED,      /* exit_code and message say why (5: diverged) */
  GSVAE_POINT_INTERRUPTED, /* stopped by a signal after a checkpoint: resumes on a rerun */
} gsvae_point_state;

typedef struct {
  gsvae_point_state state;
  int exit_code;                /* gsvae_train's (GSVAE_EXIT_*) */
  long steps;                   /* the steps the point's config asks for */
  long train_images;            /* of its data, to tell whether a later config asks for more steps */
  char message[GSVAE_ERR_LEN];  /* one line; empty unless failed */
} gsvae_point_status;

/* Replaces the file (a temporary renamed over it). Returns 0, or -1 with a message naming it. */
int gsvae_point_status_write(const char *run_dir, const gsvae_point_status *status, char *err);
/* The file's contents; GSVAE_POINT_TODO (and zeros) when there is none. Returns 0, or -1 with a
 * message when the file exists but cannot be read as one. */
int gsvae_point_status_read(const char *run_dir, gsvae_point_status *status, char *err);
/* "todo", "running", "done", "failed", "interrupted": one word, as the file and `sweep --list` write it. */
const char *gsvae_point_state_name(gsvae_point_state state);
