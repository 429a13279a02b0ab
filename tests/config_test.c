/* The config module: defaults, nested and dotted YAML, overrides, the resolved YAML's exact
 * round trip, each error's message, and random or mangled bytes never crashing the loader. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/config.h"

static int failures = 0;
#define CHECK(condition, ...)                                                  \
  do {                                                                         \
    if (!(condition)) {                                                        \
      failures++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #condition);     \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* Every key's field, written from config.h, not from config.c's table: its offset and size, and
 * how a random valid value is drawn (lo..hi: the range of a number; an enum's last word). A key
 * in config.c's table without a line here fails test_coverage; covering it is one line. */
typedef enum { F_STRING, F_BOOL, F_ENUM, F_INT, F_LONG, F_UINT64, F_DOUBLE, F_HIDDEN } field_kind;
typedef struct {
  const char *key;
  size_t offset, size;
  field_kind kind;
  double lo, hi; /* F_DOUBLE with lo > 0: drawn log-uniform, so every mantissa bit is exercised */
} field;
#define FIELD(key, member, kind, lo, hi) \
  {key, offsetof(gsvae_config, member), sizeof(((gsvae_config *)0)->member), kind, lo, hi}
static const field fields[] = {
    FIELD("data.dir", data_dir, F_STRING, 0, 0),
    FIELD("data.binarize", data_binarize, F_ENUM, 0, GSVAE_BINARIZE_DYNAMIC),
    FIELD("model.latents", model_latents, F_INT, 1, 100),
    FIELD("model.categories", model_categories, F_INT, 2, 100),
    FIELD("model.hidden", model_hidden, F_HIDDEN, 1, 4096),
    FIELD("model.logits_relu", model_logits_relu, F_BOOL, 0, 0),
    FIELD("train.epochs", train_epochs, F_INT, 1, 65536),
    FIELD("train.max_steps", train_max_steps, F_LONG, 0, 1e15),
    FIELD("train.optimizer", train_optimizer, F_ENUM, 0, GSVAE_OPTIMIZER_RADAM),
    FIELD("train.batch", train_batch, F_INT, 1, 1000),
    FIELD("train.lr", train_lr, F_DOUBLE, 1e-8, 1),
    FIELD("train.beta1", train_beta1, F_DOUBLE, 0, 0.999999),
    FIELD("train.beta2", train_beta2, F_DOUBLE, 0, 0.999999999),
    FIELD("train.eps", train_eps, F_DOUBLE, 1e-300, 1e-3),
    FIELD("train.seed", train_seed, F_UINT64, 0, 0),
    FIELD("train.estimator", train_estimator, F_ENUM, 0, GSVAE_ESTIMATOR_COUNT - 1),
    FIELD("train.estimator_gap", train_estimator_gap, F_DOUBLE, 1e-3, 100),
    FIELD("train.estimator_samples", train_estimator_samples, F_INT, 1, 1000),
    FIELD("train.sf_baseline", train_sf_baseline, F_ENUM, 0, GSVAE_SF_BASELINE_LOO),
    FIELD("train.sf_decay", train_sf_decay, F_DOUBLE, 0, 0.999999),
    FIELD("train.unrelaxed", train_unrelaxed, F_BOOL, 0, 0),
    FIELD("train.flush_denormals", train_flush_denormals, F_BOOL, 0, 0),
    FIELD("train.max_bad_steps", train_max_bad_steps, F_INT, 1, 65536),
    FIELD("train.deterministic", train_deterministic, F_BOOL, 0, 0),
    FIELD("train.reduce_chunks", train_reduce_chunks, F_INT, 1, 65536),
    FIELD("tau.schedule", tau_schedule, F_ENUM, 0, GSVAE_TAU_COSINE),
    FIELD("tau.init", tau_init, F_DOUBLE, 1e-3, 10),
    FIELD("tau.min", tau_min, F_DOUBLE, 1e-3, 10),
    FIELD("tau.rate", tau_rate, F_DOUBLE, 0, 1e5),
    FIELD("tau.every", tau_every, F_LONG, 1, 1e6),
    FIELD("tau.learn", tau_learn, F_BOOL, 0, 0),
    FIELD("run.dir", run_dir, F_STRING, 0, 0),
    FIELD("run.log_every", run_log_every, F_LONG, 1, 1e6),
    FIELD("run.ckpt_every", run_ckpt_every, F_LONG, 0, 1e6),
    FIELD("run.keep", run_keep, F_INT, 1, 10),
    FIELD("run.keep_every", run_keep_every, F_INT, 0, 10),
    FIELD("run.resume", run_resume, F_STRING, 0, 0),
    FIELD("run.watchdog", run_watchdog, F_DOUBLE, 0, 1e4),
    FIELD("device.backend", device_backend, F_ENUM, 0, GSVAE_DEVICE_CUDA),
    FIELD("device.precision", device_precision, F_ENUM, 0, GSVAE_PRECISION_BF16),
    FIELD("device.graphs", device_graphs, F_BOOL, 0, 0),
    FIELD("device.comm", device_comm, F_ENUM, 0, GSVAE_COMM_MPI),
    FIELD("device.shared_memory", device_shared_memory, F_BOOL, 0, 0),
    FIELD("device.timeout", device_timeout, F_DOUBLE, 1e-3, 1e5),
};
enum { FIELD_COUNT = sizeof fields / sizeof fields[0] };

static bool same_field(const gsvae_config *a, const gsvae_config *b, const field *f) {
  const char *x = (const char *)a + f->offset, *y = (const char *)b + f->offset;
  if (f->kind == F_STRING) return !strcmp(x, y);
  if (f->kind == F_HIDDEN)
    return a->model_hidden_count == b->model_hidden_count &&
           !memcmp(x, y, (size_t)a->model_hidden_count * sizeof a->model_hidden[0]);
  return !memcmp(x, y, f->size); /* doubles exactly */
}

static int same_config(const gsvae_config *a, const gsvae_config *b) {
  for (int i = 0; i < FIELD_COUNT; i++)
    if (!same_field(a, b, &fields[i])) return 0;
  return 1;
}

/* The keys config.c's table holds, in order, read from the resolved YAML (every key, nested). */
static int table_keys(char names[][64], int capacity) {
  gsvae_config c;
  gsvae_config_defaults(&c);
  char *yaml = gsvae_config_to_yaml(&c), section[64] = "";
  int count = 0;
  for (char *save, *line = strtok_r(yaml, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    size_t name = strcspn(line + (line[0] == ' ' ? 2 : 0), ":");
    if (line[0] != ' ') snprintf(section, sizeof section, "%.*s", (int)name, line);
    else if (count < capacity) snprintf(names[count++], 64, "%s.%.*s", section, (int)name, line + 2);
  }
  free(yaml);
  return count;
}

static void test_defaults(void) {
  gsvae_config c;
  gsvae_config_defaults(&c);
  CHECK(!strcmp(c.data_dir, "/usr/share/datasets/fashion-mnist"), "%s", c.data_dir);
  CHECK(c.data_binarize == GSVAE_BINARIZE_NONE, "%d", c.data_binarize);
  CHECK(c.model_latents == 30 && c.model_categories == 10, "%d %d", c.model_latents, c.model_categories);
  CHECK(c.model_hidden_count == 2 && c.model_hidden[0] == 512 && c.model_hidden[1] == 256, "%d",
        c.model_hidden_count);
  CHECK(c.model_logits_relu, "logits_relu");
  CHECK(c.train_epochs == 10 && c.train_max_steps == 0 && c.train_batch == 100, "%d %ld %d", c.train_epochs,
        c.train_max_steps, c.train_batch);
  CHECK(c.train_lr == 1e-3 && c.train_beta1 == 0.9 && c.train_beta2 == 0.999 && c.train_eps == 1e-8 &&
            c.train_optimizer == GSVAE_OPTIMIZER_ADAM,
        "adam");
  CHECK(c.train_seed == 0 && c.train_estimator == GSVAE_ESTIMATOR_GS && c.train_unrelaxed, "seed/estimator");
  CHECK(c.train_max_bad_steps == 10, "%d", c.train_max_bad_steps);
  CHECK(!c.train_deterministic && c.train_reduce_chunks == 8, "%d %d", c.train_deterministic, c.train_reduce_chunks);
  CHECK(c.tau_schedule == GSVAE_TAU_CONSTANT && c.tau_init == 1.0 && c.tau_min == 0.5 && c.tau_rate == 0 &&
            c.tau_every == 1,
        "tau");
  CHECK(!strcmp(c.run_dir, "results/seed") && c.run_log_every == 10 && c.run_ckpt_every == 1000 && c.run_keep == 3 &&
            c.run_keep_every == 0 && !strcmp(c.run_resume, "auto"),
        "run");
  CHECK(c.device_backend == GSVAE_DEVICE_AUTO && c.device_precision == GSVAE_PRECISION_FP32 && c.device_graphs &&
            c.device_shared_memory,
        "device");
  char err[GSVAE_ERR_LEN];
  gsvae_config loaded;
  CHECK(gsvae_config_load(&loaded, NULL, 0, NULL, err) == 0, "%s", err);
  CHECK(same_config(&c, &loaded), "load with nothing != defaults");
}

static void test_yaml_forms(void) {
  char err[GSVAE_ERR_LEN] = "";
  gsvae_config c;
  gsvae_config_defaults(&c);
  const char *nested = "# a comment\n"
                       "model:\n  latents: 20\n  categories: 4\n  hidden: [64, 32, 16]\n  logits_relu: no\n"
                       "train:\n  lr: 2.5e-4\n  seed: 18446744073709551615\n  estimator: st\n  unrelaxed: False\n"
                       "tau: {schedule: exp, init: 2, min: 0.25, rate: 1e-4, every: 500}\n"
                       "run:\n  dir: 'runs/a b: c # d'\n  resume: \"never\"\n"
                       "data:\n  binarize: dynamic\n";
  CHECK(gsvae_config_load_yaml_text(&c, nested, strlen(nested), "nested.yaml", err) == 0, "%s", err);
  CHECK(c.model_latents == 20 && c.model_categories == 4, "model");
  CHECK(c.model_hidden_count == 3 && c.model_hidden[0] == 64 && c.model_hidden[1] == 32 && c.model_hidden[2] == 16,
        "hidden");
  CHECK(!c.model_logits_relu && !c.train_unrelaxed, "bools");
  CHECK(c.train_lr == 2.5e-4 && c.train_seed == UINT64_MAX && c.train_estimator == GSVAE_ESTIMATOR_ST, "train");
  CHECK(c.tau_schedule == GSVAE_TAU_EXP && c.tau_init == 2 && c.tau_min == 0.25 && c.tau_rate == 1e-4 &&
            c.tau_every == 500,
        "tau");
  CHECK(!strcmp(c.run_dir, "runs/a b: c # d") && !strcmp(c.run_resume, "never"), "%s", c.run_dir);
  CHECK(c.data_binarize == GSVAE_BINARIZE_DYNAMIC, "binarize");
  CHECK(c.train_batch == 100, "untouched keys keep their values");

  gsvae_config d;
  gsvae_config_defaults(&d);
  const char *dotted = "model.hidden: '128, 64'\ntrain.batch: 50\ntau.schedule: cosine\ndevice.graphs: 0\n"
                       "model:\n  latents: 7\n";
  CHECK(gsvae_config_load_yaml_text(&d, dotted, strlen(dotted), "dotted.yaml", err) == 0, "%s", err);
  CHECK(d.model_hidden_count == 2 && d.model_hidden[0] == 128 && d.model_hidden[1] == 64, "hidden");
  CHECK(d.train_batch == 50 && d.tau_schedule == GSVAE_TAU_COSINE && !d.device_graphs && d.model_latents == 7,
        "dotted");

  gsvae_config e, defaults;
  gsvae_config_defaults(&e);
  gsvae_config_defaults(&defaults);
  const char *empty[] = {"", "# only a comment\n", "---\n", "---\n...\n", "{}"};
  for (int i = 0; i < 5; i++) {
    CHECK(gsvae_config_load_yaml_text(&e, empty[i], strlen(empty[i]), "empty.yaml", err) == 0, "'%s': %s",
          empty[i], err);
    CHECK(same_config(&e, &defaults), "'%s' changed the config", empty[i]);
  }
}

static void test_file_and_overrides(const char *work) {
  char path[4096], err[GSVAE_ERR_LEN] = "";
  snprintf(path, sizeof path, "%s/config_test_file.yaml", work);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL, "cannot write %s", path);
  if (!f) return;
  fputs("train:\n  lr: 0.01\n  batch: 64\nmodel.hidden: [32]\nrun.dir: from-file\n", f);
  fclose(f);
  gsvae_config c;
  char *overrides[] = {"train.lr=0.5", "model.hidden=[16, 8]", "run.dir=\"with space\"", "train.seed = 42",
                       "model.logits_relu=yes", "data.dir=/a=b"};
  CHECK(gsvae_config_load(&c, path, 6, overrides, err) == 0, "%s", err);
  CHECK(c.train_lr == 0.5 && c.train_batch == 64, "override over file: lr %g batch %d", c.train_lr, c.train_batch);
  CHECK(c.model_hidden_count == 2 && c.model_hidden[0] == 16 && c.model_hidden[1] == 8, "hidden");
  CHECK(!strcmp(c.run_dir, "with space") && c.train_seed == 42 && c.model_logits_relu, "%s", c.run_dir);
  CHECK(!strcmp(c.data_dir, "/a=b"), "%s", c.data_dir);
  char *hidden_plain[] = {"model.hidden=512,256,128"};
  CHECK(gsvae_config_load(&c, path, 1, hidden_plain, err) == 0 && c.model_hidden_count == 3 &&
            c.model_hidden[2] == 128 && c.train_lr == 0.01,
        "%s", err);
}

/* Random valid values in every field, set directly by the field table (not through config.c's). */
static unsigned next_random(unsigned *state) {
  *state = *state * 1103515245u + 12345u;
  return (*state >> 8) & 0xffff;
}

static void randomize(gsvae_config *c, unsigned *state) {
#define RAND() next_random(state)
  gsvae_config_defaults(c);
  static const char *const strings[] = {"plain", "with \"quotes\" and \\backslash", "colon: hash # end", "ünïcødé ✓",
                                        "  leading and trailing  ", "- dash", "'single'", "123", "true", "null",
                                        "[1, 2]", "{a: b}", "*alias", "&anchor", "%percent", "@at", "`tick`"};
  int string_count = sizeof strings / sizeof strings[0];
  for (int i = 0; i < FIELD_COUNT; i++) {
    const field *f = &fields[i];
    void *at = (char *)c + f->offset;
    double unit = (RAND() + 0.5) / 65536.0 * ((RAND() + 1) / 65537.0); /* in (0, 1), many mantissa bits */
    long span = (long)(f->hi - f->lo) + 1, drawn = (long)f->lo + (long)(unit * span);
    switch (f->kind) {
    case F_STRING: snprintf(at, f->size, "%s/%u", strings[RAND() % string_count], RAND()); break;
    case F_BOOL: *(bool *)at = RAND() % 2; break;
    case F_ENUM: *(int *)at = RAND() % span; break;
    case F_INT: *(int *)at = (int)drawn; break;
    case F_LONG: *(long *)at = drawn; break;
    case F_UINT64:
      *(uint64_t *)at = ((uint64_t)RAND() << 48) ^ ((uint64_t)RAND() << 32) ^ ((uint64_t)RAND() << 16) ^ RAND();
      break;
    case F_DOUBLE:
      *(double *)at = f->lo > 0 ? f->lo * pow(f->hi / f->lo, unit) : f->lo + (f->hi - f->lo) * unit;
      break;
    case F_HIDDEN:
      c->model_hidden_count = 1 + RAND() % GSVAE_MAX_HIDDEN;
      for (int k = 0; k < c->model_hidden_count; k++) c->model_hidden[k] = (int)f->lo + RAND() % (int)f->hi;
      break;
    }
  }
#undef RAND
}

/* config.c's table and this file's field table name the same keys: a new key fails here until a
 * FIELD line covers it (and randomize then draws it, test_key_fields checks its offset). */
static void test_coverage(void) {
  char names[256][64];
  int count = table_keys(names, 256);
  CHECK(count > 0 && count < 256, "%d keys read from the resolved YAML", count);
  for (int k = 0; k < count; k++) {
    bool covered = false;
    for (int i = 0; i < FIELD_COUNT; i++) covered |= !strcmp(fields[i].key, names[k]);
    CHECK(covered, "config key '%s' has no FIELD line in tests/config_test.c: the comparison would miss it", names[k]);
  }
  for (int i = 0; i < FIELD_COUNT; i++) {
    bool in_table = false;
    for (int k = 0; k < count; k++) in_table |= !strcmp(fields[i].key, names[k]);
    CHECK(in_table, "FIELD line '%s' names no key of config.c's table", fields[i].key);
  }
}

/* Each key, set alone through the YAML loader to a random config's value, changes its own field
 * (the FIELD line's offset is that key's) and no other; over the trials every field changes. */
static void test_key_fields(void) {
  unsigned state = 777;
  char err[GSVAE_ERR_LEN] = "";
  gsvae_config defaults;
  gsvae_config_defaults(&defaults);
  bool changed[FIELD_COUNT] = {false};
  for (int trial = 0; trial < 50; trial++) {
    gsvae_config random;
    randomize(&random, &state);
    char *yaml = gsvae_config_to_yaml(&random), section[64] = "";
    for (char *save, *line = strtok_r(yaml, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      if (line[0] == '#') continue;
      if (line[0] != ' ') {
        snprintf(section, sizeof section, "%.*s", (int)strcspn(line, ":"), line);
        continue;
      }
      char text[GSVAE_PATH_LEN + 128];
      snprintf(text, sizeof text, "%s.%s\n", section, line + 2); /* the dotted form of the same line */
      gsvae_config one = defaults;
      int status = gsvae_config_load_yaml_text(&one, text, strlen(text), "one key", err);
      CHECK(status == 0, "'%s': %s", text, err);
      for (int i = 0; status == 0 && i < FIELD_COUNT; i++) {
        const field *f = &fields[i];
        bool own = !strncmp(text, f->key, strlen(f->key)) && text[strlen(f->key)] == ':';
        if (own) {
          CHECK(same_field(&one, &random, f), "'%s' did not set the field of %s's FIELD line", text, f->key);
          changed[i] |= !same_field(&one, &defaults, f);
        } else {
          CHECK(same_field(&one, &defaults, f), "'%s' changed %s's field", text, f->key);
        }
      }
    }
    free(yaml);
  }
  for (int i = 0; i < FIELD_COUNT; i++)
    CHECK(changed[i], "%s never differed from its default: randomize does not draw it", fields[i].key);
}

static void test_round_trip(void) {
  unsigned state = 12345;
  char err[GSVAE_ERR_LEN] = "";
  for (int trial = 0; trial < 200; trial++) {
    gsvae_config original, loaded;
    randomize(&original, &state);
    char *yaml = gsvae_config_to_yaml(&original);
    gsvae_config_defaults(&loaded);
    int status = gsvae_config_load_yaml_text(&loaded, yaml, strlen(yaml), "round-trip", err);
    CHECK(status == 0, "trial %d: %s\n%s", trial, err, yaml);
    CHECK(status != 0 || same_config(&original, &loaded), "trial %d: fields differ after the round trip\n%s", trial,
          yaml);
    char *again = gsvae_config_to_yaml(&loaded);
    CHECK(!strcmp(yaml, again), "trial %d: YAML differs\n%s\n---\n%s", trial, yaml, again);
    free(yaml);
    free(again);
  }
  /* Nested: every key under its section, values resolved. */
  gsvae_config c;
  gsvae_config_defaults(&c);
  char *yaml = gsvae_config_to_yaml(&c);
  const char *expected[] = {"data:\n", "\n  dir: \"/usr/share/datasets/fashion-mnist\"\n", "\nmodel:\n",
                            "\n  hidden: [512, 256]\n", "\ntrain:\n", "\n  lr: 0.001\n", "\n  seed: 0\n",
                            "\ntau:\n", "\n  schedule: constant\n", "\nrun:\n", "\n  log_every: 10\n",
                            "\ndevice:\n", "\n  graphs: true\n"};
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
    CHECK(strstr(yaml, expected[i]), "missing '%s' in\n%s", expected[i], yaml);
  free(yaml);
}

/* The message of a failing load of `text` plus overrides must contain every word in `words`. */
static void expect_error(const char *text, const char *override, const char *const *words) {
  gsvae_config c, before;
  gsvae_config_defaults(&c);
  before = c;
  char err[GSVAE_ERR_LEN] = "";
  int status;
  if (override) {
    char *overrides[] = {(char *)override};
    status = gsvae_config_load(&c, NULL, 1, overrides, err);
  } else {
    status = gsvae_config_load_yaml_text(&c, text, strlen(text), "bad.yaml", err);
    CHECK(same_config(&c, &before), "a failed load changed the config: '%s'", text);
  }
  CHECK(status == -1, "'%s' was accepted", override ? override : text);
  for (int i = 0; words[i]; i++)
    CHECK(strstr(err, words[i]), "'%s': message '%s' lacks '%s'", override ? override : text, err, words[i]);
}
#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_errors(const char *work) {
  /* unknown keys: named, and the closest valid key suggested, across sections too */
  expect_error(NULL, "train.learning_rate=0.1", WORDS("unknown key 'train.learning_rate'", "did you mean 'train.lr'"));
  expect_error(NULL, "train.bach=10", WORDS("'train.bach'", "did you mean 'train.batch'"));
  expect_error(NULL, "model.lr=0.1", WORDS("'model.lr'", "did you mean 'train.lr'"));
  expect_error(NULL, "lr=0.1", WORDS("did you mean 'train.lr'"));
  expect_error(NULL, "trian.seed=1", WORDS("did you mean 'train.seed'"));
  expect_error(NULL, "tau.minimum=0.1", WORDS("did you mean 'tau.min'"));
  expect_error(NULL, "run.logevery=5", WORDS("did you mean 'run.log_every'"));
  expect_error(NULL, "data.binarise=static", WORDS("did you mean 'data.binarize'"));
  expect_error(NULL, "train.schedule=exp", WORDS("did you mean 'tau.schedule'"));
  expect_error("train:\n  lr: 0.1\n  epoch: 3\n", NULL, WORDS("bad.yaml:3:3", "'train.epoch'", "'train.epochs'"));
  expect_error("trian:\n  lr: 0.1\n", NULL, WORDS("bad.yaml:1:1", "'trian'", "did you mean 'train'"));
  /* wrong types: key, value and the expected type */
  expect_error(NULL, "train.batch=ten", WORDS("'train.batch'", "'ten'", "integer"));
  expect_error(NULL, "train.batch=1.5", WORDS("'train.batch'", "'1.5'", "integer"));
  expect_error(NULL, "train.lr=fast", WORDS("'train.lr'", "'fast'", "number"));
  expect_error(NULL, "model.logits_relu=maybe", WORDS("'model.logits_relu'", "'maybe'", "true/false"));
  expect_error(NULL, "train.seed=-1", WORDS("'train.seed'", "'-1'", "non-negative integer"));
  expect_error(NULL, "model.hidden=512,,256", WORDS("'model.hidden'", "512,,256", "list of integers"));
  expect_error("train:\n  epochs: [1, 2]\n", NULL, WORDS("bad.yaml:2:11", "'train.epochs'", "sequence"));
  expect_error("train: 5\n", NULL, WORDS("bad.yaml:1:1", "'train'"));
  expect_error("train:\n  lr: {a: 1}\n", NULL, WORDS("'train.lr'", "mapping"));
  expect_error("train:\n  lr:\n", NULL, WORDS("bad.yaml:2:6", "'train.lr'", "no value"));
  /* out of range: key, value and the allowed range or choices */
  expect_error(NULL, "train.batch=0", WORDS("'train.batch'", "'0'", "[1, 1048576]"));
  expect_error(NULL, "train.lr=0", WORDS("'train.lr'", "'0'", "> 0"));
  expect_error(NULL, "train.lr=inf", WORDS("'train.lr'", "'inf'", "finite"));
  expect_error(NULL, "train.beta1=1", WORDS("'train.beta1'", "[0, 1)"));
  expect_error(NULL, "model.categories=1", WORDS("'model.categories'", "[2, 65536]"));
  expect_error(NULL, "train.epochs=99999999999", WORDS("'train.epochs'", "99999999999"));
  expect_error(NULL, "tau.schedule=fast", WORDS("'tau.schedule'", "'fast'", "constant|exp|linear|cosine"));
  expect_error(NULL, "model.hidden=1,2,3,4,5,6,7,8,9", WORDS("'model.hidden'", "1 to 8 entries"));
  expect_error(NULL, "model.hidden=[]", WORDS("'model.hidden'", "1 to 8 entries"));
  expect_error(NULL, "run.dir=", WORDS("'run.dir'", "non-empty"));
  expect_error("train:\n  batch: -5\n", NULL, WORDS("bad.yaml:2:10", "'train.batch'", "'-5'", "[1, 1048576]"));
  /* malformed YAML: the file with line:column and libyaml's problem */
  expect_error("train:\n  lr: 0.1\n\tbatch: 5\n", NULL, WORDS("bad.yaml:3:1", "malformed YAML", "tab"));
  expect_error("model:\n  hidden: [1, 2\n", NULL, WORDS("bad.yaml:3:1", "malformed YAML"));
  expect_error("train:\n  lr: \"open\n", NULL, WORDS("bad.yaml:3:1", "malformed YAML"));
  expect_error("a\xff: 1\n", NULL, WORDS("bad.yaml:1:2", "malformed YAML"));
  /* not a mapping, aliases, duplicates, documents */
  expect_error("- 1\n- 2\n", NULL, WORDS("bad.yaml:1:1", "must be a mapping", "sequence"));
  expect_error("just words\n", NULL, WORDS("must be a mapping", "scalar"));
  expect_error("train:\n  lr: 0.1\n  lr: 0.2\n", NULL, WORDS("bad.yaml:3:3", "duplicate key 'train.lr'"));
  expect_error("train.lr: 0.1\ntrain:\n  lr: 0.2\n", NULL, WORDS("duplicate key 'train.lr'"));
  expect_error("train:\n  lr: 0.1\ntrain:\n  batch: 3\n", NULL, WORDS("bad.yaml:3:1", "duplicate key 'train'"));
  expect_error("x: &a 1\ntrain:\n  lr: *a\n", NULL, WORDS("'x'"));
  expect_error("train:\n  batch: &a 1\n  epochs: *a\n", NULL, WORDS("'train.epochs'", "alias"));
  expect_error("train.lr: 0.1\n---\ntrain.lr: 0.2\n", NULL, WORDS("bad.yaml:2:1", "more than one YAML document"));
  expect_error("[1]: 2\n", NULL, WORDS("bad.yaml:1:1", "key must be a name"));
  /* the command line: not key=value, a missing file */
  expect_error(NULL, "train.lr", WORDS("'train.lr'", "key=value"));
  expect_error(NULL, "=3", WORDS("no key"));
  gsvae_config c;
  char err[GSVAE_ERR_LEN] = "", missing[4096];
  snprintf(missing, sizeof missing, "%s/no-such-config.yaml", work);
  CHECK(gsvae_config_load(&c, missing, 0, NULL, err) == -1 && strstr(err, missing) && strstr(err, "cannot read"),
        "%s", err);
}

static void test_across_keys(void) {
  gsvae_config c;
  char err[GSVAE_ERR_LEN] = "";
  char *exp_bad[] = {"tau.schedule=exp", "tau.init=0.5", "tau.min=0.75"};
  CHECK(gsvae_config_load(&c, NULL, 3, exp_bad, err) == -1 && strstr(err, "tau.min") && strstr(err, "tau.init"),
        "%s", err);
  char *constant_ok[] = {"tau.init=0.25"}; /* tau.min is unused by the constant schedule */
  CHECK(gsvae_config_load(&c, NULL, 1, constant_ok, err) == 0, "%s", err);
  char *too_wide[] = {"model.latents=65536", "model.categories=65536"};
  CHECK(gsvae_config_load(&c, NULL, 2, too_wide, err) == -1 && strstr(err, "model.latents"), "%s", err);
}

static void test_help(void) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  gsvae_config_print_help(out);
  fclose(out);
  char keys[256][64];
  int count = table_keys(keys, 256);
  for (int k = 0; k < count; k++) CHECK(strstr(text, keys[k]), "help lacks key '%s'", keys[k]);
  const char *words[] = {"none|static|dynamic", "constant|exp|linear|cosine", "gs|st", "auto|cpu|cuda", "fp32|tf32",
                         "512,256"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) CHECK(strstr(text, words[i]), "help lacks '%s'", words[i]);
  free(text);
}

/* Random bytes and mangled configs: any result is fine but a crash, a leak (under ASan) or an
 * error without a message. */
static void test_any_bytes(void) {
  gsvae_config c;
  gsvae_config_defaults(&c);
  char *base = gsvae_config_to_yaml(&c);
  size_t base_length = strlen(base);
  unsigned state = 99;
#define RAND() next_random(&state)
  static const char alphabet[] = "{}[]:,-?&*!|>'\"%@`#\n\t .=ab01\\";
  char *buffer = malloc(base_length + 4096);
  for (int trial = 0; trial < 600; trial++) {
    size_t length;
    if (trial % 3 == 0) { /* random bytes, half from YAML's punctuation */
      length = RAND() % 300;
      for (size_t i = 0; i < length; i++)
        buffer[i] = RAND() % 2 ? (char)RAND() : alphabet[RAND() % (sizeof alphabet - 1)];
    } else { /* the resolved config with a few bytes changed, inserted or cut */
      memcpy(buffer, base, base_length);
      length = base_length;
      int edits = 1 + RAND() % 8;
      for (int e = 0; e < edits; e++) {
        size_t at = RAND() % length;
        char byte = RAND() % 2 ? (char)RAND() : alphabet[RAND() % (sizeof alphabet - 1)];
        switch (RAND() % 3) {
        case 0: buffer[at] = byte; break;
        case 1: memmove(buffer + at + 1, buffer + at, length - at), buffer[at] = byte, length++; break;
        default: length = at + 1;
        }
      }
    }
    char err[GSVAE_ERR_LEN] = "";
    gsvae_config loaded = c;
    if (gsvae_config_load_yaml_text(&loaded, buffer, length, "fuzz", err)) CHECK(err[0], "trial %d: no message", trial);
  }
#undef RAND
  /* deep nesting must neither recurse nor run out of anything */
  size_t deep = 200000;
  char *nested = malloc(2 * deep + 16);
  const char *openers[] = {"[", "{a: ", "train: [", "- "};
  for (int kind = 0; kind < 4; kind++) {
    size_t used = 0, step = strlen(openers[kind]);
    while (used + step < 2 * deep) memcpy(nested + used, openers[kind], step), used += step;
    char err[GSVAE_ERR_LEN] = "";
    gsvae_config loaded = c;
    CHECK(gsvae_config_load_yaml_text(&loaded, nested, used, "deep", err) == -1 && err[0], "kind %d accepted", kind);
  }
  free(nested);
  free(buffer);
  free(base);
}

int main(int argc, char **argv) {
  const char *work = argc > 1 ? argv[1] : "/tmp";
  test_defaults();
  test_yaml_forms();
  test_file_and_overrides(work);
  test_coverage();
  test_key_fields();
  test_round_trip();
  test_errors(work);
  test_across_keys();
  test_help();
  test_any_bytes();
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("config tests passed\n");
  return failures ? 1 : 0;
}
