/* A sweep point's state file (point_status.h): a few "key: value" lines for a person to read,
 * the message last, the rest of its line, with any newline flattened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/config.h"
#include "core/files.h"
#include "train/point_status.h"

static const char *const STATE_KEYS[] = {"todo", "running", "done", "failed", "interrupted"};

const char *gsvae_point_state_name(gsvae_point_state state) { return STATE_KEYS[state]; }

static void status_path(const char *run_dir, char *path, size_t size) {
  snprintf(path, size, "%.3900s/sweep_point.txt", run_dir);
}

int gsvae_point_status_write(const char *run_dir, const gsvae_point_status *status, char *err) {
  char path[GSVAE_PATH_LEN], temporary[GSVAE_PATH_LEN + 8], message[GSVAE_ERR_LEN];
  status_path(run_dir, path, sizeof path);
  snprintf(temporary, sizeof temporary, "%s.tmp", path);
  snprintf(message, sizeof message, "%s", status->message);
  for (char *c = message; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  FILE *file = fopen(temporary, "w");
  if (!file) return gsvae_errorf(err, "cannot write %s: %s", temporary, strerror(errno));
  fprintf(file, "state: %s\nexit_code: %d\nsteps: %ld\ntrain_images: %ld\nmessage: %s\n", STATE_KEYS[status->state],
          status->exit_code, status->steps, status->train_images, message);
  if (fclose(file) != 0) return gsvae_errorf(err, "cannot write %s: %s", temporary, strerror(errno));
  return gsvae_rename_durable(temporary, path, err);
}

int gsvae_point_status_read(const char *run_dir, gsvae_point_status *status, char *err) {
  char path[GSVAE_PATH_LEN], line[GSVAE_ERR_LEN + 64], state[32] = "";
  memset(status, 0, sizeof *status);
  status_path(run_dir, path, sizeof path);
  FILE *file = fopen(path, "r");
  if (!file) return errno == ENOENT ? 0 : gsvae_errorf(err, "cannot read %s: %s", path, strerror(errno));
  while (fgets(line, sizeof line, file)) {
    line[strcspn(line, "\n")] = '\0';
    if (!strncmp(line, "message: ", 9)) snprintf(status->message, sizeof status->message, "%.1000s", line + 9);
    sscanf(line, "state: %31s", state); /* each matches its own key's line alone */
    sscanf(line, "exit_code: %d", &status->exit_code);
    sscanf(line, "steps: %ld", &status->steps);
    sscanf(line, "train_images: %ld", &status->train_images);
  }
  fclose(file);
  for (int s = 0; s < (int)(sizeof STATE_KEYS / sizeof *STATE_KEYS); s++)
    if (!strcmp(state, STATE_KEYS[s])) {
      status->state = (gsvae_point_state)s;
      return 0;
    }
  return gsvae_errorf(err, "%s: 'state: %s' is none of todo, running, done, failed, interrupted", path, state);
}
