/* One check line of the C numerical tests: what was measured, its value and limit, ok or FAILED;
 * `failures` counts the failed ones for main's exit code. */
#pragma once
#include <stdio.h>

static int failures = 0;

static inline void expect(int ok, const char *what, double value, double limit) {
  printf("%-72s %10.3e (limit %.1e) %s\n", what, value, limit, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}
