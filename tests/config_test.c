/* The config module: defaults, nested and dotted YAML, overrides, the resolved YAML's exact
 * round trip, each error's message, and random or mangled bytes never crashing the loader. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
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

/* Every field, compared one by one (doubles exactly): written from config.h, not from the table. */
static int same_config(const gsvae_config *a, const gsvae_config *b) {
  int same = !strcmp(a->data_dir, b->data_dir) && a->data_binarize == b->data_binarize &&
             a->model_latents == b->model_latents && a->model_categories == b->model_categories &&
             a->model_hidden_count == b->model_hidden_count && a->model_logits_relu == b->model_logits_relu &&
             a->train_epochs == b->train_epochs && a->train_max_steps == b->train_max_steps &&
             a->train_batch == b->train_batch && a->train_optimizer == b->train_optimizer &&
             a->train_lr == b->train_lr && a->train_beta1 == b->train_beta1 &&
             a->train_beta2 == b->train_beta2 && a->train_eps == b->train_eps && a->train_seed == b->train_seed &&
             a->train_estimator == b->train_estimator && a->train_unrelaxed == b->train_unrelaxed &&
             a->train_max_bad_steps == b->train_max_bad_steps && a->train_deterministic == b->train_deterministic &&
             a->train_reduce_chunks == b->train_reduce_chunks && a->tau_schedule == b->tau_schedule &&
             a->tau_init == b->tau_init && a->tau_min == b->tau_min && a->tau_rate == b->tau_rate &&
             a->tau_every == b->tau_every && !strcmp(a->run_dir, b->run_dir) && a->run_log_every == b->run_log_every &&
             a->run_ckpt_every == b->run_ckpt_every && a->run_keep == b->run_keep &&
             a->run_keep_every == b->run_keep_every && !strcmp(a->run_resume, b->run_resume) &&
             a->device_backend == b->device_backend && a->device_precision == b->device_precision &&
             a->device_graphs == b->device_graphs;
  for (int i = 0; same && i < a->model_hidden_count; i++) same = a->model_hidden[i] == b->model_hidden[i];
  return same;
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
  CHECK(c.device_backend == GSVAE_DEVICE_AUTO && c.device_precision == GSVAE_PRECISION_FP32 && c.device_graphs,
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

/* Random valid values in every field, set directly (not through the table). */
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
  snprintf(c->data_dir, sizeof c->data_dir, "%s", strings[RAND() % string_count]);
  snprintf(c->run_dir, sizeof c->run_dir, "%s/%u", strings[RAND() % string_count], RAND());
  snprintf(c->run_resume, sizeof c->run_resume, "%s", strings[RAND() % string_count]);
  c->data_binarize = RAND() % 3;
  c->model_latents = 1 + RAND() % 100;
  c->model_categories = 2 + RAND() % 100;
  c->model_hidden_count = 1 + RAND() % GSVAE_MAX_HIDDEN;
  for (int i = 0; i < c->model_hidden_count; i++) c->model_hidden[i] = 1 + RAND() % 4096;
  c->model_logits_relu = RAND() % 2;
  c->train_epochs = 1 + RAND();
  c->train_max_steps = (long)RAND() * RAND() * RAND();
  c->train_batch = 1 + RAND() % 1000;
  double unit = (RAND() + 0.5) / 65536.0 * ((RAND() + 1) / 65537.0);
  c->train_optimizer = RAND() % 2;
  c->train_lr = unit * 1e-3 / 3.0;
  c->train_beta1 = unit;
  c->train_beta2 = 1.0 - unit * 1e-7;
  c->train_eps = unit * 1e-300;
  c->train_seed = ((uint64_t)RAND() << 48) ^ ((uint64_t)RAND() << 32) ^ ((uint64_t)RAND() << 16) ^ RAND();
  c->train_estimator = RAND() % 2;
  c->train_unrelaxed = RAND() % 2;
  c->train_max_bad_steps = 1 + RAND();
  c->train_deterministic = RAND() % 2;
  c->train_reduce_chunks = 1 + RAND() % c->train_batch;
  c->tau_schedule = RAND() % 4;
  c->tau_init = 1.0 / 3.0 + unit;
  c->tau_min = c->tau_init * unit;
  c->tau_rate = unit * 1e5;
  c->tau_every = 1 + RAND();
  c->run_log_every = 1 + RAND();
  c->run_ckpt_every = RAND();
  c->run_keep = 1 + RAND() % 10;
  c->run_keep_every = RAND() % 10;
  c->device_backend = RAND() % 3;
  c->device_precision = RAND() % 2;
  c->device_graphs = RAND() % 2;
#undef RAND
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
  const char *names[] = {"data.dir", "data.binarize", "model.latents", "model.categories", "model.hidden",
                         "model.logits_relu", "train.epochs", "train.max_steps", "train.batch", "train.lr",
                         "train.beta1", "train.beta2", "train.eps", "train.seed", "train.estimator",
                         "train.unrelaxed", "train.max_bad_steps", "tau.schedule", "tau.init", "tau.min", "tau.rate",
                         "tau.every", "run.dir", "run.log_every", "run.ckpt_every", "run.keep", "run.keep_every",
                         "run.resume", "device.backend", "device.precision", "device.graphs",
                         "none|static|dynamic", "constant|exp|linear|cosine", "gs|st", "auto|cpu|cuda",
                         "fp32|tf32", "512,256"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    CHECK(strstr(text, names[i]), "help lacks '%s'", names[i]);
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
  test_round_trip();
  test_errors(work);
  test_across_keys();
  test_help();
  test_any_bytes();
  if (failures) fprintf(stderr, "%d checks failed\n", failures);
  else printf("config tests passed\n");
  return failures ? 1 : 0;
}
