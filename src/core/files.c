/* File-system helpers (see files.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/config.h"
#include "core/files.h"

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

int gsvae_fsync_path(const char *path, char *err) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return gsvae_errorf(err, "cannot open '%s' to fsync it: %s", path, strerror(errno));
  int status = fsync(fd);
  int saved_errno = errno;
  close(fd);
  if (status != 0) return gsvae_errorf(err, "fsync of '%s' failed: %s", path, strerror(saved_errno));
  return 0;
}

int gsvae_rename_durable(const char *from, const char *to, char *err) {
  if (rename(from, to) != 0) return gsvae_errorf(err, "cannot rename '%s' to '%s': %s", from, to, strerror(errno));
  char dir[GSVAE_PATH_LEN];
  const char *slash = strrchr(to, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if ((size_t)(slash - to) >= sizeof dir) return gsvae_errorf(err, "path too long: '%s'", to);
  else snprintf(dir, sizeof dir, "%.*s", slash == to ? 1 : (int)(slash - to), to);
  return gsvae_fsync_path(dir, err);
}
