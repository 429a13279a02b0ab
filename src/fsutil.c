/* File-system helpers (see fsutil.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "gsvae/check.h"
#include "gsvae/config.h"
#include "gsvae/fsutil.h"

int gsvae_mkdir_p(const char *path, char *err) {
  char partial[GSVAE_PATH_LEN];
  size_t length = strlen(path);
  if (length == 0 || length >= sizeof partial) return gsvae_errorf(err, "bad directory path '%s'", path);
  memcpy(partial, path, length + 1);
  for (size_t i = 1; i <= length; i++) {
    if (partial[i] != '/' && partial[i] != '\0') continue;
    char saved = partial[i];
    partial[i] = '\0';
    struct stat info;
    if (stat(partial, &info) != 0) {
      if (mkdir(partial, 0777) != 0 && errno != EEXIST)
        return gsvae_errorf(err, "cannot create directory '%s': %s", partial, strerror(errno));
    } else if (!S_ISDIR(info.st_mode)) {
      return gsvae_errorf(err, "'%s' exists and is not a directory", partial);
    }
    partial[i] = saved;
  }
  return 0;
}
