/* The run configuration: one static table of keys drives the defaults, `key=value` parsing and
 * validation, YAML loading (libyaml events, iterative, so any bytes are safe), the resolved YAML
 * and `gsvae config --help`. */
#define _POSIX_C_SOURCE 200809L /* open_memstream, strnlen, strcasecmp */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "core/chunks.h"
#include "core/config.h"

typedef enum { KEY_INT, KEY_LONG, KEY_UINT64, KEY_DOUBLE, KEY_BOOL, KEY_STRING, KEY_ENUM, KEY_INT_LIST } key_type;
static const char *const type_names[] = {"int", "long", "uint64", "double", "bool", "string", "enum", "int list"};
static const char *const type_expected[] = {
    "an integer", "an integer", "a non-negative integer", "a number", "a boolean (true/false, yes/no, 1/0)",
    "a non-empty string", "one of the listed words", "a list of integers such as 512,256 or [512, 256]"};

/* Which ends of [min, max] apply, and whether they are open. */
enum { LOW = 1, LOW_OPEN = 2, HIGH = 4, HIGH_OPEN = 8 };

typedef struct {
  const char *name;          /* section.leaf */
  key_type type;
  size_t offset;             /* of the field in gsvae_config */
  size_t count_offset;       /* int lists: of the int holding the entry count */
  const char *fallback;      /* the default, as text in the key's own syntax */
  double min, max;           /* numbers; int lists: each entry */
  int bounds;
  const char *const *words;  /* enums: the words in the enum's order, NULL-terminated, */
  const char *(*word_of)(int index); /* or the enum's word at index, NULL past the last */
  const char *help;
} config_key;

#define AT(field) offsetof(gsvae_config, field)

static const char *key_word(const config_key *key, int index) {
  return key->words ? key->words[index] : key->word_of(index);
}
_Static_assert(sizeof(gsvae_binarize) == sizeof(int) && sizeof(gsvae_estimator) == sizeof(int) &&
                   sizeof(gsvae_sf_baseline) == sizeof(int) &&
                   sizeof(gsvae_tau_kind) == sizeof(int) && sizeof(gsvae_device_kind) == sizeof(int) &&
                   sizeof(gsvae_precision) == sizeof(int) && sizeof(gsvae_optimizer) == sizeof(int),
               "enum fields are stored through int");

static const char *const binarize_words[] = {"none", "static", "dynamic", NULL};
static const char *const sf_baseline_words[] = {"ema", "loo", NULL};
static const char *const tau_words[] = {"constant", "exp", "linear", "cosine", NULL};
static const char *const backend_words[] = {"auto", "cpu", "cuda", NULL};
static const char *const precision_words[] = {"fp32", "tf32", "bf16", NULL};
static const char *const comm_words[] = {"nccl", "mpi", NULL};
static const char *const optimizer_words[] = {"adam", "radam", NULL};
const char *gsvae_optimizer_word(gsvae_optimizer optimizer) { return optimizer_words[optimizer]; }

/* Grouped by section, in the order the resolved YAML lists them. */
static const config_key keys[] = {
    {.name = "data.dir", .type = KEY_STRING, .offset = AT(data_dir), .fallback = "/usr/share/datasets/fashion-mnist",
     .help = "directory with the four MNIST-layout IDX files (train-images-idx3-ubyte, ...), gzipped or not"},
    {.name = "data.binarize", .type = KEY_ENUM, .offset = AT(data_binarize), .fallback = "none",
     .words = binarize_words,
     .help = "none: grey levels in [0,1]; static: one seeded Bernoulli draw per image; dynamic: a fresh draw per step"},
    {.name = "model.latents", .type = KEY_INT, .offset = AT(model_latents), .fallback = "30", .min = 1,
     .max = 65536, .bounds = LOW | HIGH, .help = "L, the number of categorical latent variables"},
    {.name = "model.categories", .type = KEY_INT, .offset = AT(model_categories), .fallback = "10", .min = 2,
     .max = 65536, .bounds = LOW | HIGH, .help = "K, the number of classes of each latent variable"},
    {.name = "model.hidden", .type = KEY_INT_LIST, .offset = AT(model_hidden), .count_offset = AT(model_hidden_count),
     .fallback = "512,256", .min = 1, .max = 65536, .bounds = LOW | HIGH,
     .help = "encoder hidden layer sizes, input side first; the decoder mirrors them"},
    {.name = "model.logits_relu", .type = KEY_BOOL, .offset = AT(model_logits_relu), .fallback = "true",
     .help = "ReLU after the logits layer (the seed's quirk)"},
    {.name = "train.epochs", .type = KEY_INT, .offset = AT(train_epochs), .fallback = "10", .min = 1,
     .bounds = LOW, .help = "passes over the training set"},
    {.name = "train.max_steps", .type = KEY_LONG, .offset = AT(train_max_steps), .fallback = "0", .min = 0,
     .bounds = LOW, .help = "stop after this many global steps (0: no cap)"},
    {.name = "train.batch", .type = KEY_INT, .offset = AT(train_batch), .fallback = "100", .min = 1,
     .max = 1 << 20, .bounds = LOW | HIGH, .help = "the global batch, split over the ranks"},
    {.name = "train.optimizer", .type = KEY_ENUM, .offset = AT(train_optimizer), .fallback = "adam",
     .words = optimizer_words,
     .help = "adam: torch.optim.Adam; radam: torch.optim.RAdam (Liu et al. 2020), plain momentum SGD while the "
             "variance is not tractable, rectified Adam after; both without weight decay, on the same moments"},
    {.name = "train.lr", .type = KEY_DOUBLE, .offset = AT(train_lr), .fallback = "0.001", .min = 0,
     .bounds = LOW | LOW_OPEN, .help = "the optimizer's learning rate"},
    {.name = "train.beta1", .type = KEY_DOUBLE, .offset = AT(train_beta1), .fallback = "0.9", .min = 0, .max = 1,
     .bounds = LOW | HIGH | HIGH_OPEN, .help = "the first-moment decay (Adam's and RAdam's beta1)"},
    {.name = "train.beta2", .type = KEY_DOUBLE, .offset = AT(train_beta2), .fallback = "0.999", .min = 0, .max = 1,
     .bounds = LOW | HIGH | HIGH_OPEN, .help = "the second-moment decay (Adam's and RAdam's beta2)"},
    {.name = "train.eps", .type = KEY_DOUBLE, .offset = AT(train_eps), .fallback = "1e-08", .min = 0,
     .bounds = LOW | LOW_OPEN, .help = "the optimizer's epsilon"},
    {.name = "train.seed", .type = KEY_UINT64, .offset = AT(train_seed), .fallback = "0",
     .help = "seeds the init, the epoch order and every noise draw"},
    {.name = "train.estimator", .type = KEY_ENUM, .offset = AT(train_estimator), .fallback = "gs",
     .word_of = gsvae_estimator_word,
     .help = "gs: Gumbel-Softmax sample; st: straight-through Gumbel-Softmax; st_softmax: one-hot sample, backward "
             "through softmax(logits/tau); gst: gapped straight-through; grmck: Gumbel-Rao Monte Carlo; reinmax; "
             "sf: score function (docs/estimators.md)"},
    {.name = "train.estimator_gap", .type = KEY_DOUBLE, .offset = AT(train_estimator_gap), .fallback = "1", .min = 0,
     .bounds = LOW | LOW_OPEN, .help = "gst: the gap kappa between the sampled category's logit and the others"},
    {.name = "train.estimator_samples", .type = KEY_INT, .offset = AT(train_estimator_samples), .fallback = "1",
     .min = 1, .max = 1000, .bounds = LOW | HIGH,
     .help = "grmck: conditional Gumbel draws K averaged in the backward; sf: one-hot samples decoded per input"},
    {.name = "train.sf_baseline", .type = KEY_ENUM, .offset = AT(train_sf_baseline), .fallback = "ema",
     .words = sf_baseline_words,
     .help = "sf: ema: a moving average of the loss; loo: the mean of the other train.estimator_samples samples"},
    {.name = "train.sf_decay", .type = KEY_DOUBLE, .offset = AT(train_sf_decay), .fallback = "0.99", .min = 0,
     .max = 1, .bounds = LOW | HIGH | HIGH_OPEN, .help = "sf with ema: the moving average's decay per step"},
    {.name = "train.unrelaxed", .type = KEY_BOOL, .offset = AT(train_unrelaxed), .fallback = "true",
     .help = "also evaluate the unrelaxed objective on every step's batch, as the seed does"},
    {.name = "train.flush_denormals", .type = KEY_BOOL, .offset = AT(train_flush_denormals), .fallback = "true",
     .help = "flush subnormal floats to zero (FTZ+DAZ) in every thread of the CPU model math; false: IEEE "
             "subnormals, slower as training goes on (the GPU kernels always flush)"},
    {.name = "train.max_bad_steps", .type = KEY_INT, .offset = AT(train_max_bad_steps), .fallback = "10", .min = 1,
     .bounds = LOW, .help = "non-finite steps in a row before training stops"},
    {.name = "train.deterministic", .type = KEY_BOOL, .offset = AT(train_deterministic), .fallback = "false",
     .help = "byte-identical training on any number of ranks and BLAS threads: gradients of train.reduce_chunks "
             "fixed chunks folded in chunk order, a rank's threads on whole chunks side by side; costs ~1.7x the "
             "step with 8 chunks, nothing measurable with 2 (docs/determinism.md); "
             "false: one product per rank, summed in rank order, bit-exact only for the same ranks "
             "and threads"},
    {.name = "train.reduce_chunks", .type = KEY_INT, .offset = AT(train_reduce_chunks), .fallback = "8", .min = 1,
     .max = 65536, .bounds = LOW | HIGH,
     .help = "with train.deterministic: the global batch is cut into this many chunks (at least the ranks, at "
             "most train.batch samples, at most " GSVAE_MAX_CHUNK_ROWS_TEXT " rows each)"},
    {.name = "tau.schedule", .type = KEY_ENUM, .offset = AT(tau_schedule), .fallback = "constant",
     .words = tau_words, .help = "the temperature schedule (formulas in src/core/tau_schedule.h)"},
    {.name = "tau.init", .type = KEY_DOUBLE, .offset = AT(tau_init), .fallback = "1", .min = 0,
     .bounds = LOW | LOW_OPEN, .help = "tau0, the temperature at step 0"},
    {.name = "tau.min", .type = KEY_DOUBLE, .offset = AT(tau_min), .fallback = "0.5", .min = 0,
     .bounds = LOW | LOW_OPEN, .help = "the floor of the exp and linear schedules, the end of cosine"},
    {.name = "tau.rate", .type = KEY_DOUBLE, .offset = AT(tau_rate), .fallback = "0", .min = 0, .bounds = LOW,
     .help = "r in tau = max(tau.min, tau.init*exp(-r*t)) (exp), or the decrease per step (linear)"},
    {.name = "tau.every", .type = KEY_LONG, .offset = AT(tau_every), .fallback = "1", .min = 1, .bounds = LOW,
     .help = "tau changes every this many steps (Jang et al.: 500 or 1000)"},
    {.name = "tau.learn", .type = KEY_BOOL, .offset = AT(tau_learn), .fallback = "false",
     .help = "log tau is a parameter trained by the optimizer from tau.init (needs tau.schedule=constant)"},
    {.name = "run.dir", .type = KEY_STRING, .offset = AT(run_dir), .fallback = "results/seed",
     .help = "where run.h5 and the checkpoints go"},
    {.name = "run.log_every", .type = KEY_LONG, .offset = AT(run_log_every), .fallback = "10", .min = 1,
     .bounds = LOW, .help = "a terminal line and a curves row every this many steps (1: one row per step)"},
    {.name = "run.ckpt_every", .type = KEY_LONG, .offset = AT(run_ckpt_every), .fallback = "1000", .min = 0,
     .bounds = LOW, .help = "a checkpoint every this many steps (0: only at epoch ends and the end)"},
    {.name = "run.keep", .type = KEY_INT, .offset = AT(run_keep), .fallback = "3", .min = 1, .bounds = LOW,
     .help = "the newest checkpoints kept"},
    {.name = "run.keep_every", .type = KEY_INT, .offset = AT(run_keep_every), .fallback = "0", .min = 0,
     .bounds = LOW, .help = "every k-th checkpoint is kept forever (0: off)"},
    {.name = "run.resume", .type = KEY_STRING, .offset = AT(run_resume), .fallback = "auto",
     .help = "auto: from the newest valid checkpoint in run.dir if any; never: fresh; or a checkpoint PATH"},
    {.name = "run.watchdog", .type = KEY_DOUBLE, .offset = AT(run_watchdog), .fallback = "600", .min = 0,
     .bounds = LOW, .help = "seconds a rank waits at one step (a peer hung or died) before ending the job; 0: off"},
    {.name = "device.backend", .type = KEY_ENUM, .offset = AT(device_backend), .fallback = "auto",
     .words = backend_words, .help = "auto: cuda when a GPU is there, else cpu"},
    {.name = "device.precision", .type = KEY_ENUM, .offset = AT(device_precision), .fallback = "fp32",
     .words = precision_words,
     .help = "matrix products: fp32; tf32 (GPU tensor cores); bf16 operands summed in fp32 (GPU tensor cores, or "
             "CPUs with AVX512_BF16 or AMX), all else in fp32"},
    {.name = "device.graphs", .type = KEY_BOOL, .offset = AT(device_graphs), .fallback = "true",
     .help = "capture the training step as one CUDA graph"},
    {.name = "device.comm", .type = KEY_ENUM, .offset = AT(device_comm), .fallback = "nccl", .words = comm_words,
     .help = "GPU ranks reduce over nccl, or over mpi through pinned host memory (ranks may then share a GPU; "
             "eager steps, no graph)"},
    {.name = "device.shared_memory", .type = KEY_BOOL, .offset = AT(device_shared_memory), .fallback = "true",
     .help = "CPU ranks all on one node fold the gradients where they lie and share one copy of the parameters, "
             "through a shared-memory window (false: MPI messages, as between nodes; the same bits either way)"},
    {.name = "device.timeout", .type = KEY_DOUBLE, .offset = AT(device_timeout), .fallback = "300", .min = 0,
     .bounds = LOW_OPEN, .help = "seconds a GPU rank waits on its peers in one collective before aborting the "
             "communicator and the job, naming the collective, step and rank"},
};
enum { KEY_COUNT = sizeof keys / sizeof keys[0], NAME_LEN = 128, SHOWN = 200 };

/* ---- one key's text form ---- */

/* Keys that did something once and now do nothing: configs and checkpoints that set them still
 * load, with a note. */
static const struct {
  const char *name, *why;
} retired_keys[] = {
    {"device.overlap", "the GPU's decoder gradients are reduced with the rest, in the ordered chunk reduction"},
};

/* Whether `name` is a retired key; says so on stderr, once a process. */
static bool ignore_retired_key(const char *name) {
  static bool noted[sizeof retired_keys / sizeof retired_keys[0]];
  for (size_t i = 0; i < sizeof retired_keys / sizeof retired_keys[0]; i++) {
    if (strcmp(retired_keys[i].name, name)) continue;
    if (!noted[i] && gsvae_world_rank == 0)
      fprintf(stderr, "gsvae: note: %s is ignored: %s\n", retired_keys[i].name, retired_keys[i].why);
    noted[i] = true;
    return true;
  }
  return false;
}

static const config_key *find_key(const char *name) {
  for (int i = 0; i < KEY_COUNT; i++)
    if (!strcmp(keys[i].name, name)) return &keys[i];
  return NULL;
}

static size_t section_length(const char *name) {
  const char *dot = strchr(name, '.');
  return dot ? (size_t)(dot - name) : 0;
}

/* Optimal string alignment distance (edits, adjacent swaps), on at most NAME_LEN characters. */
static int edit_distance(const char *a, const char *b) {
  size_t n = strnlen(a, NAME_LEN), m = strnlen(b, NAME_LEN);
  int rows[3][NAME_LEN + 1];
  for (size_t j = 0; j <= m; j++) rows[0][j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    int *previous2 = rows[(i + 1) % 3], *previous = rows[(i - 1) % 3], *row = rows[i % 3];
    row[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      int best = previous[j - 1] + cost;
      if (previous[j] + 1 < best) best = previous[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && previous2[j - 2] + 1 < best)
        best = previous2[j - 2] + 1;
      row[j] = best;
    }
  }
  return rows[n % 3][m];
}

/* Whether `short_word` abbreviates `word`: same first letter and letters in order (lr, lr), or
 * a part of it three letters or longer (relu, logits_relu). */
static int abbreviates(const char *short_word, const char *word) {
  if (strlen(short_word) >= 3 && strstr(word, short_word)) return 1;
  if (!*short_word || *short_word != *word) return 0;
  for (; *word && *short_word; word++)
    if (*word == *short_word) short_word++;
  return *short_word == '\0';
}

/* The valid key nearest to `name`: by whole-name edits, or by the leaf alone (edits, or one name
 * abbreviating the other: learning_rate ~ lr) plus two for a different section. */
static const char *closest_key(const char *name) {
  char section[NAME_LEN];
  size_t length = section_length(name);
  snprintf(section, sizeof section, "%.*s", (int)(length < NAME_LEN ? length : NAME_LEN - 1), name);
  const char *leaf = length ? name + length + 1 : name;
  const char *best = keys[0].name;
  int best_score = INT_MAX, best_full = INT_MAX;
  for (int i = 0; i < KEY_COUNT; i++) {
    size_t key_section = section_length(keys[i].name);
    const char *key_leaf = keys[i].name + key_section + 1;
    int full = edit_distance(name, keys[i].name);
    int by_leaf = edit_distance(leaf, key_leaf);
    if (abbreviates(leaf, key_leaf) || abbreviates(key_leaf, leaf)) by_leaf = by_leaf < 2 ? by_leaf : 2;
    by_leaf += 2 * !(key_section == length && !strncmp(keys[i].name, name, length));
    int score = full < by_leaf ? full : by_leaf;
    if (score < best_score || (score == best_score && full < best_full)) {
      best = keys[i].name;
      best_score = score;
      best_full = full;
    }
  }
  return best;
}

/* The section nearest to `name`, for a mapping under an unknown name ('trian:'). */
static const char *closest_section(const char *name, char *section, size_t size) {
  int best_score = INT_MAX;
  for (int i = 0; i < KEY_COUNT; i++) {
    char candidate[NAME_LEN];
    snprintf(candidate, sizeof candidate, "%.*s", (int)section_length(keys[i].name), keys[i].name);
    int score = edit_distance(name, candidate);
    if (score < best_score) best_score = score, snprintf(section, size, "%s", candidate);
  }
  return section;
}

static int unknown_key(const char *name, char *err) {
  return gsvae_errorf(err, "unknown key '%.*s'; did you mean '%s'? (gsvae config --help lists every key)", SHOWN,
                      name, closest_key(name));
}

static void describe_range(const config_key *key, char *out, size_t size) {
  out[0] = '\0';
  if (key->type == KEY_ENUM) {
    size_t used = 0;
    for (int i = 0; key_word(key, i) && used < size; i++)
      used += snprintf(out + used, size - used, "%s%s", i ? "|" : "", key_word(key, i));
    return;
  }
  char entry[96] = "";
  int low = key->bounds & LOW, high = key->bounds & HIGH;
  if (low && high)
    snprintf(entry, sizeof entry, "%s%.17g, %.17g%s", key->bounds & LOW_OPEN ? "(" : "[", key->min, key->max,
             key->bounds & HIGH_OPEN ? ")" : "]");
  else if (low) snprintf(entry, sizeof entry, "%s %.17g", key->bounds & LOW_OPEN ? ">" : ">=", key->min);
  else if (high) snprintf(entry, sizeof entry, "%s %.17g", key->bounds & HIGH_OPEN ? "<" : "<=", key->max);
  if (key->type == KEY_INT_LIST) snprintf(out, size, "1 to %d entries, each in %s", GSVAE_MAX_HIDDEN, entry);
  else if (key->type == KEY_STRING) snprintf(out, size, "non-empty, under %d bytes", GSVAE_PATH_LEN);
  else if (key->type == KEY_DOUBLE && entry[0]) snprintf(out, size, "%s, finite", entry);
  else snprintf(out, size, "%s", entry);
}

static int bad_type(const config_key *key, const char *value, char *err) {
  return gsvae_errorf(err, "invalid value '%.*s' for key '%s': expected %s (%s)", SHOWN, value, key->name,
                      type_expected[key->type], type_names[key->type]);
}

static int out_of_range(const config_key *key, const char *value, char *err) {
  char range[256];
  describe_range(key, range, sizeof range);
  if (key->type == KEY_ENUM)
    return gsvae_errorf(err, "invalid value '%.*s' for key '%s': expected one of %s", SHOWN, value, key->name, range);
  return gsvae_errorf(err, "value '%.*s' for key '%s' is out of range: allowed %s", SHOWN, value, key->name, range);
}

static int in_range(const config_key *key, double value) {
  if ((key->bounds & LOW) && (value < key->min || ((key->bounds & LOW_OPEN) && value == key->min))) return 0;
  if ((key->bounds & HIGH) && (value > key->max || ((key->bounds & HIGH_OPEN) && value == key->max))) return 0;
  return 1;
}

/* 0: parsed; 1: not an integer; 2: beyond long long. Decimal only, the whole text. */
static int parse_integer(const char *text, long long *value) {
  if (!((*text >= '0' && *text <= '9') || ((*text == '-' || *text == '+') && text[1] >= '0' && text[1] <= '9')))
    return 1;
  char *end;
  errno = 0;
  *value = strtoll(text, &end, 10);
  if (*end) return 1;
  return errno == ERANGE ? 2 : 0;
}

static int parse_bool(const char *text, bool *value) {
  static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(text, yes[i])) return *value = true, 0;
    if (!strcasecmp(text, no[i])) return *value = false, 0;
  }
  return 1;
}

/* Strings are written back as double-quoted YAML, which libyaml reads only as UTF-8 without
 * control characters; rejecting the rest here keeps every stored string round-trippable. */
static int printable_utf8(const unsigned char *s) {
  while (*s) {
    int extra = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 : (*s & 0xf8) == 0xf0 ? 3 : -1;
    if (extra < 0 || *s < 0x20 || *s == 0x7f || (extra == 1 && *s < 0xc2) || (*s == 0xf4 && s[1] > 0x8f) || *s > 0xf4)
      return 0;
    if (*s == 0xe0 && s[1] < 0xa0) return 0;  /* overlong */
    if (*s == 0xed && s[1] > 0x9f) return 0;  /* surrogates */
    if (*s == 0xf0 && s[1] < 0x90) return 0;  /* overlong */
    if (*s == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) return 0; /* C1 controls */
    s++;
    for (int i = 0; i < extra; i++, s++)
      if ((*s & 0xc0) != 0x80) return 0;
  }
  return 1;
}

static int parse_int_list(const config_key *key, const char *text, int *entries, int *count, char *err) {
  char copy[1024];
  if (strlen(text) >= sizeof copy) return bad_type(key, text, err);
  strcpy(copy, text);
  char *start = copy, *end = copy + strlen(copy);
  while (*start == ' ') start++;
  while (end > start && end[-1] == ' ') end--;
  *end = '\0';
  if (*start == '[' && end > start && end[-1] == ']') start++, *--end = '\0';
  *count = 0;
  while (*start == ' ') start++;
  if (!*start) return out_of_range(key, text, err);
  for (char *item = start;; item++) {
    char *comma = strchr(item, ',');
    if (comma) *comma = '\0';
    while (*item == ' ') item++;
    for (char *tail = item + strlen(item); tail > item && tail[-1] == ' ';) *--tail = '\0';
    long long value;
    int status = parse_integer(item, &value);
    if (status == 1) return bad_type(key, text, err);
    if (status == 2 || *count == GSVAE_MAX_HIDDEN || !in_range(key, (double)value)) return out_of_range(key, text, err);
    entries[(*count)++] = (int)value;
    if (!comma) return 0;
    item = comma;
  }
}

static int set_key(gsvae_config *config, const config_key *key, const char *value, char *err) {
  char *field = (char *)config + key->offset;
  long long integer;
  int status;
  switch (key->type) {
  case KEY_INT:
  case KEY_LONG:
    if ((status = parse_integer(value, &integer)) == 1) return bad_type(key, value, err);
    if (status == 2 || !in_range(key, (double)integer) ||
        (key->type == KEY_INT ? integer < INT_MIN || integer > INT_MAX : integer < LONG_MIN || integer > LONG_MAX))
      return out_of_range(key, value, err);
    if (key->type == KEY_INT) *(int *)field = (int)integer;
    else *(long *)field = (long)integer;
    return 0;
  case KEY_UINT64: {
    if (!(*value >= '0' && *value <= '9')) return bad_type(key, value, err);
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(value, &end, 10);
    if (*end) return bad_type(key, value, err);
    if (errno == ERANGE) return out_of_range(key, value, err);
    *(uint64_t *)field = parsed;
    return 0;
  }
  case KEY_DOUBLE: {
    char *end;
    double parsed = strtod(value, &end);
    if (end == value || *end || *value == ' ' || *value == '\t') return bad_type(key, value, err);
    if (!isfinite(parsed) || !in_range(key, parsed)) return out_of_range(key, value, err);
    *(double *)field = parsed;
    return 0;
  }
  case KEY_BOOL:
    return parse_bool(value, (bool *)field) ? bad_type(key, value, err) : 0;
  case KEY_STRING:
    if (!*value || strlen(value) >= GSVAE_PATH_LEN) return out_of_range(key, value, err);
    if (!printable_utf8((const unsigned char *)value))
      return gsvae_errorf(err, "invalid value '%.*s' for key '%s': expected UTF-8 text without control characters",
                          SHOWN, value, key->name);
    memcpy(field, value, strlen(value) + 1);
    return 0;
  case KEY_ENUM:
    for (int i = 0; key_word(key, i); i++)
      if (!strcmp(value, key_word(key, i))) return *(int *)field = i, 0;
    return out_of_range(key, value, err);
  case KEY_INT_LIST: {
    int entries[GSVAE_MAX_HIDDEN], count;
    if (parse_int_list(key, value, entries, &count, err)) return -1;
    memcpy(field, entries, sizeof entries);
    *(int *)((char *)config + key->count_offset) = count;
    return 0;
  }
  }
  return gsvae_errorf(err, "key '%s' has an unknown type", key->name);
}

int gsvae_config_set(gsvae_config *config, const char *key, const char *value, char *err) {
  const config_key *entry = find_key(key);
  if (!entry && ignore_retired_key(key)) return 0;
  if (!entry) return unknown_key(key, err);
  return set_key(config, entry, value, err);
}

void gsvae_config_defaults(gsvae_config *config) {
  char err[GSVAE_ERR_LEN];
  memset(config, 0, sizeof *config);
  for (int i = 0; i < KEY_COUNT; i++)
    if (set_key(config, &keys[i], keys[i].fallback, err)) gsvae_abort(GSVAE_EXIT_RUNTIME, "config table: %s", err);
}

/* ---- YAML ---- */

/* The shortest of %.15g, %.16g, %.17g that reads back as the same double. */
static void format_double(double value, char *out, size_t size) {
  for (int digits = 15; digits <= 17; digits++) {
    snprintf(out, size, "%.*g", digits, value);
    if (strtod(out, NULL) == value) return;
  }
}

static void write_quoted(FILE *out, const char *text) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(out, "\\%c", *c);
    else if (*c < 0x20 || *c == 0x7f) fprintf(out, "\\x%02x", *c);
    else fputc(*c, out);
  }
  fputc('"', out);
}

static void write_value(FILE *out, const gsvae_config *config, const config_key *key) {
  const char *field = (const char *)config + key->offset;
  char number[64];
  switch (key->type) {
  case KEY_INT: fprintf(out, "%d", *(const int *)field); break;
  case KEY_LONG: fprintf(out, "%ld", *(const long *)field); break;
  case KEY_UINT64: fprintf(out, "%" PRIu64, *(const uint64_t *)field); break;
  case KEY_DOUBLE:
    format_double(*(const double *)field, number, sizeof number);
    fputs(number, out);
    break;
  case KEY_BOOL: fputs(*(const bool *)field ? "true" : "false", out); break;
  case KEY_STRING: write_quoted(out, field); break;
  case KEY_ENUM: {
    int value = *(const int *)field, count = 0;
    while (key_word(key, count)) count++;
    if (value >= 0 && value < count) fputs(key_word(key, value), out);
    else fprintf(out, "%d", value); /* not a valid choice: loading it back says so */
    break;
  }
  case KEY_INT_LIST: {
    int count = *(const int *)((const char *)config + key->count_offset);
    fputc('[', out);
    for (int i = 0; i < count && i < GSVAE_MAX_HIDDEN; i++) fprintf(out, "%s%d", i ? ", " : "", ((const int *)field)[i]);
    fputc(']', out);
    break;
  }
  }
}

char *gsvae_config_to_yaml(const gsvae_config *config) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  if (!out) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory writing the config as YAML");
  for (int i = 0; i < KEY_COUNT; i++) {
    size_t section = section_length(keys[i].name);
    if (i == 0 || section != section_length(keys[i - 1].name) || strncmp(keys[i].name, keys[i - 1].name, section))
      fprintf(out, "%.*s:\n", (int)section, keys[i].name);
    fprintf(out, "  %s: ", keys[i].name + section + 1);
    write_value(out, config, &keys[i]);
    fputc('\n', out);
  }
  if (fclose(out)) gsvae_abort(GSVAE_EXIT_RUNTIME, "out of memory writing the config as YAML");
  return text;
}

void gsvae_config_print_help(FILE *out) {
  fprintf(out, "gsvae config keys: in CONFIG.yaml (nested, `train: {lr: 0.001}`, or dotted, `train.lr: 0.001`)\n"
               "or as key=value overrides after it (`train.lr=0.001 model.hidden=512,256`).\n\n");
  for (int i = 0; i < KEY_COUNT; i++) {
    char range[256];
    describe_range(&keys[i], range, sizeof range);
    fprintf(out, "  %-20s %-8s default %s", keys[i].name, type_names[keys[i].type], keys[i].fallback);
    if (range[0]) fprintf(out, "; %s %s", keys[i].type == KEY_ENUM ? "one of" : "range", range);
    fprintf(out, "\n      %s\n", keys[i].help);
  }
}

typedef struct {
  yaml_parser_t parser;
  const char *source;
  const char *text;
  size_t length;
  gsvae_config *config;
  char *err;
  bool seen[KEY_COUNT];
  char sections_seen[KEY_COUNT][NAME_LEN]; /* section mappings opened so far, to catch duplicates */
  int section_count;
} yaml_loader;

static int at_mark(yaml_loader *loader, yaml_mark_t mark, const char *message) {
  return gsvae_errorf(loader->err, "%s:%zu:%zu: %s", loader->source, mark.line + 1, mark.column + 1, message);
}

static int next_event(yaml_loader *loader, yaml_event_t *event) {
  if (yaml_parser_parse(&loader->parser, event)) return 0;
  yaml_parser_t *p = &loader->parser;
  const char *problem = p->problem ? p->problem : "cannot parse";
  size_t line = p->problem_mark.line + 1, column = p->problem_mark.column + 1;
  if (p->error == YAML_READER_ERROR) { /* the reader knows only a byte offset */
    line = 1, column = 1;
    for (size_t i = 0; i < p->problem_offset && i < loader->length; i++) {
      if (loader->text[i] == '\n') line++, column = 1;
      else column++;
    }
  }
  if (p->context)
    return gsvae_errorf(loader->err, "%s:%zu:%zu: malformed YAML: %s %s (line %zu, column %zu)", loader->source, line,
                        column, problem, p->context, p->context_mark.line + 1, p->context_mark.column + 1);
  return gsvae_errorf(loader->err, "%s:%zu:%zu: malformed YAML: %s", loader->source, line, column, problem);
}

static const char *node_kind(yaml_event_type_t type) {
  return type == YAML_MAPPING_START_EVENT ? "a mapping" : type == YAML_SEQUENCE_START_EVENT ? "a sequence"
         : type == YAML_ALIAS_EVENT       ? "an alias"  : "a scalar";
}

static int is_null(const yaml_event_t *event) {
  const char *value = (const char *)event->data.scalar.value;
  return event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
         (!*value || !strcmp(value, "~") || !strcmp(value, "null") || !strcmp(value, "Null") || !strcmp(value, "NULL"));
}

/* The first key under section `prefix`, or NULL when `prefix` is no section. */
static const config_key *section_key(const char *prefix) {
  size_t length = strlen(prefix);
  for (int i = 0; i < KEY_COUNT; i++)
    if (!strncmp(keys[i].name, prefix, length) && keys[i].name[length] == '.') return &keys[i];
  return NULL;
}

/* Sets key `name` from a scalar or, for int lists, a sequence of scalars, starting at `value`. */
static int load_value(yaml_loader *loader, const char *name, yaml_mark_t key_mark, yaml_event_t *value) {
  char message[GSVAE_ERR_LEN];
  const config_key *key = find_key(name);
  if (!key && value->type == YAML_SCALAR_EVENT && ignore_retired_key(name)) return 0;
  const config_key *first = key ? NULL : section_key(name);
  if (first) {
    snprintf(message, sizeof message, "'%s' is a section: its value must be a mapping of its keys, such as '%s: {%s: ...}'",
             name, name, first->name + strlen(name) + 1);
    return at_mark(loader, key_mark, message);
  }
  if (!key) return unknown_key(name, message), at_mark(loader, key_mark, message);
  if (loader->seen[key - keys]) {
    snprintf(message, sizeof message, "duplicate key '%s'", name);
    return at_mark(loader, key_mark, message);
  }
  loader->seen[key - keys] = true;
  if (value->type == YAML_SCALAR_EVENT) {
    const char *text = (const char *)value->data.scalar.value;
    if (strlen(text) != value->data.scalar.length)
      snprintf(message, sizeof message, "the value of key '%s' contains a NUL character", name);
    else if (is_null(value))
      snprintf(message, sizeof message, "key '%s' has no value; expected %s (%s)", name, type_expected[key->type],
               type_names[key->type]);
    else if (!set_key(loader->config, key, text, message)) return 0;
    return at_mark(loader, value->start_mark, message);
  }
  if (value->type != YAML_SEQUENCE_START_EVENT || key->type != KEY_INT_LIST) {
    snprintf(message, sizeof message, "key '%s' expects %s (%s), got %s", name, type_expected[key->type],
             type_names[key->type], node_kind(value->type));
    return at_mark(loader, value->start_mark, message);
  }
  char list[1024] = "[";
  size_t used = 1;
  yaml_mark_t list_mark = value->start_mark;
  for (;;) {
    yaml_event_t item;
    if (next_event(loader, &item)) return -1;
    if (item.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&item);
      break;
    }
    if (item.type != YAML_SCALAR_EVENT) {
      snprintf(message, sizeof message, "the entries of key '%s' must be integers, got %s", name,
               node_kind(item.type));
      yaml_event_delete(&item);
      return at_mark(loader, list_mark, message);
    }
    const char *text = (const char *)item.data.scalar.value;
    size_t length = item.data.scalar.length;
    int fits = strlen(text) == length && used + length + 2 < sizeof list;
    if (fits) used += snprintf(list + used, sizeof list - used, "%s%s", used > 1 ? "," : "", text);
    yaml_event_delete(&item);
    if (!fits) {
      snprintf(message, sizeof message, "key '%s': the list is too long; expected %s", name, type_expected[key->type]);
      return at_mark(loader, list_mark, message);
    }
  }
  snprintf(list + used, sizeof list - used, "]");
  if (set_key(loader->config, key, list, message)) return at_mark(loader, list_mark, message);
  return 0;
}

/* The pairs of the top mapping, whose MAPPING_START has been read; section mappings nest by
 * extending the dotted prefix, so nesting deeper than the table's names is refused at once. */
static int load_mapping(yaml_loader *loader) {
  char name[NAME_LEN] = "";
  size_t prefix_lengths[NAME_LEN];
  int depth = 0;
  char message[GSVAE_ERR_LEN];
  for (;;) {
    yaml_event_t key, value;
    if (next_event(loader, &key)) return -1;
    if (key.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&key);
      if (depth == 0) return 0;
      name[prefix_lengths[--depth]] = '\0';
      continue;
    }
    if (key.type != YAML_SCALAR_EVENT) {
      snprintf(message, sizeof message, "a key must be a name such as 'train' or 'train.lr', got %s",
               node_kind(key.type));
      int status = at_mark(loader, key.start_mark, message);
      yaml_event_delete(&key);
      return status;
    }
    size_t prefix_length = strlen(name);
    const char *leaf = (const char *)key.data.scalar.value;
    yaml_mark_t key_mark = key.start_mark;
    int too_long = strlen(leaf) != key.data.scalar.length || prefix_length + strlen(leaf) + 2 > sizeof name;
    if (!too_long) snprintf(name + prefix_length, sizeof name - prefix_length, "%s%s", depth ? "." : "", leaf);
    else snprintf(message, sizeof message, "unknown key '%.*s'", SHOWN, leaf);
    yaml_event_delete(&key);
    if (too_long) return at_mark(loader, key_mark, message);
    if (next_event(loader, &value)) return -1;
    int status = 0;
    if (value.type == YAML_MAPPING_START_EVENT) {
      const config_key *entry = find_key(name);
      if (entry) {
        snprintf(message, sizeof message, "key '%s' expects %s (%s), got a mapping", name, type_expected[entry->type],
                 type_names[entry->type]);
        status = at_mark(loader, value.start_mark, message);
      } else if (!section_key(name)) {
        char section[NAME_LEN];
        if (depth == 0)
          snprintf(message, sizeof message, "unknown section '%.*s'; did you mean '%s'?", SHOWN, name,
                   closest_section(name, section, sizeof section));
        else unknown_key(name, message);
        status = at_mark(loader, key_mark, message);
      } else {
        for (int i = 0; i < loader->section_count && !status; i++)
          if (!strcmp(loader->sections_seen[i], name)) {
            snprintf(message, sizeof message, "duplicate key '%s'", name);
            status = at_mark(loader, key_mark, message);
          }
        if (!status && loader->section_count < KEY_COUNT)
          strcpy(loader->sections_seen[loader->section_count++], name);
        prefix_lengths[depth++] = prefix_length;
      }
    } else {
      status = load_value(loader, name, key_mark, &value);
      name[prefix_length] = '\0';
    }
    yaml_event_delete(&value);
    if (status) return status;
  }
}

static int load_document(yaml_loader *loader) {
  yaml_event_t event;
  if (next_event(loader, &event)) return -1;
  if (event.type != YAML_STREAM_START_EVENT) {
    yaml_event_delete(&event);
    return gsvae_errorf(loader->err, "%s: malformed YAML: no stream start", loader->source);
  }
  yaml_event_delete(&event);
  for (int documents = 0;; documents++) {
    if (next_event(loader, &event)) return -1;
    yaml_event_type_t type = event.type;
    yaml_mark_t mark = event.start_mark;
    yaml_event_delete(&event);
    if (type == YAML_STREAM_END_EVENT) return 0;
    if (documents > 0) return at_mark(loader, mark, "more than one YAML document; a config is one mapping");
    /* type is DOCUMENT_START: the parser emits nothing else here */
    if (next_event(loader, &event)) return -1;
    int status = 0;
    char message[GSVAE_ERR_LEN];
    if (event.type == YAML_MAPPING_START_EVENT) {
      status = load_mapping(loader);
    } else if (!(event.type == YAML_SCALAR_EVENT && is_null(&event))) {
      snprintf(message, sizeof message, "the config must be a mapping of keys (such as 'train: {lr: 0.001}'), got %s",
               node_kind(event.type));
      status = at_mark(loader, event.start_mark, message);
    }
    yaml_event_delete(&event);
    if (status) return status;
    if (next_event(loader, &event)) return -1;
    yaml_event_delete(&event); /* DOCUMENT_END */
  }
}

int gsvae_config_load_yaml_text(gsvae_config *config, const char *text, size_t length, const char *source, char *err) {
  yaml_loader *loader = callocCheck(1, sizeof *loader);
  gsvae_config *work = mallocCheck(sizeof *work);
  *work = *config;
  loader->source = source ? source : "<config>";
  loader->text = text;
  loader->length = length;
  loader->config = work;
  loader->err = err;
  int status;
  if (!yaml_parser_initialize(&loader->parser)) {
    status = gsvae_errorf(err, "%s: cannot initialise the YAML parser (out of memory)", loader->source);
  } else {
    yaml_parser_set_input_string(&loader->parser, (const unsigned char *)text, length);
    status = load_document(loader);
    yaml_parser_delete(&loader->parser);
  }
  if (status == 0) *config = *work; /* all or nothing */
  free(work);
  free(loader);
  return status;
}

/* ---- files, overrides and the checks between keys ---- */

static bool estimator_learns_tau(gsvae_estimator estimator) {
  return gsvae_estimator_info_of(estimator)->tau_gradient;
}

/* What each estimator needs of the other keys. */
static int check_estimator(const gsvae_config *config, char *err) {
  const char *name = gsvae_estimator_info_of(config->train_estimator)->name;
  if (config->train_estimator == GSVAE_ESTIMATOR_SF && config->train_sf_baseline == GSVAE_SF_BASELINE_LOO &&
      config->train_estimator_samples < 2)
    return gsvae_errorf(err, "train.estimator_samples=%d: train.sf_baseline=loo needs at least 2 samples per input",
                        config->train_estimator_samples);
  bool uses_samples = gsvae_estimator_takes_samples(config->train_estimator);
  long long draws = (long long)config->train_estimator_samples * config->model_latents * config->model_categories;
  if (uses_samples && draws > INT_MAX) /* one sample's draws are counted by a 32-bit index */
    return gsvae_errorf(err, "train.estimator_samples=%d: %d x %d x %d = %lld draws per input is too many (at most %d)",
                        config->train_estimator_samples, config->train_estimator_samples, config->model_latents,
                        config->model_categories, draws, INT_MAX);
  if (!config->tau_learn) return 0;
  if (config->tau_schedule != GSVAE_TAU_CONSTANT)
    return gsvae_errorf(err, "tau.learn=true: tau.schedule=%s would set the tau being learned (expected "
                        "tau.schedule=constant)", tau_words[config->tau_schedule]);
  if (!gsvae_estimator_info_of(config->train_estimator)->tau_gradient) {
    char learners[128];
    gsvae_estimator_list(learners, sizeof learners, ", ", estimator_learns_tau);
    return gsvae_errorf(err, "tau.learn=true: train.estimator=%s passes no gradient to tau (expected one of %s)", name,
                        learners);
  }
  return 0;
}

int gsvae_config_check(const gsvae_config *config, char *err) {
  long long latent_width = (long long)config->model_latents * config->model_categories;
  if (latent_width > INT_MAX)
    return gsvae_errorf(err, "model.latents x model.categories = %d x %d = %lld is too large (at most %d)",
                        config->model_latents, config->model_categories, latent_width, INT_MAX);
  for (int i = 0; i < config->model_hidden_count; i++) {
    long long next = i + 1 < config->model_hidden_count ? config->model_hidden[i + 1] : latent_width;
    if (config->model_hidden[i] * next > INT_MAX)
      return gsvae_errorf(err, "model.hidden: a %d x %lld layer has more than %d weights", config->model_hidden[i],
                          next, INT_MAX);
  }
  if (config->train_deterministic && config->train_reduce_chunks > config->train_batch)
    return gsvae_errorf(err, "train.reduce_chunks=%d exceeds train.batch=%d: every chunk needs a sample",
                        config->train_reduce_chunks, config->train_batch);
  /* sf decodes train.estimator_samples rows per input: the decoder's products have that many times
   * the chunk's rows */
  int decoded = gsvae_estimator_info_of(config->train_estimator)->decodes_samples ? config->train_estimator_samples : 1;
  int chunk_rows = (config->train_batch + config->train_reduce_chunks - 1) / config->train_reduce_chunks * decoded;
  if (config->train_deterministic && chunk_rows > GSVAE_MAX_CHUNK_ROWS)
    return gsvae_errorf(err, "train.reduce_chunks=%d cuts train.batch=%d into chunks of %d rows, more than the %d a "
                        "chunk may have (one K block of the BLAS kernels): set train.reduce_chunks=%d or more",
                        config->train_reduce_chunks, config->train_batch, chunk_rows, GSVAE_MAX_CHUNK_ROWS,
                        (config->train_batch + GSVAE_MAX_CHUNK_ROWS - 1) / GSVAE_MAX_CHUNK_ROWS);
  if (config->tau_schedule != GSVAE_TAU_CONSTANT && config->tau_min > config->tau_init) {
    char tau_min[64], tau_init[64];
    format_double(config->tau_min, tau_min, sizeof tau_min);
    format_double(config->tau_init, tau_init, sizeof tau_init);
    return gsvae_errorf(err, "tau.min (%s) must not exceed tau.init (%s) with tau.schedule=%s", tau_min, tau_init,
                        tau_words[config->tau_schedule]);
  }
  return check_estimator(config, err);
}

static int load_file(gsvae_config *config, const char *path, char *err) {
  FILE *file = fopen(path, "rb");
  if (!file) return gsvae_errorf(err, "cannot read config file '%s': %s", path, strerror(errno));
  char *text = NULL;
  size_t size = 0, length = 0;
  for (;;) {
    if (length == size) {
      size = size ? 2 * size : 4096;
      char *grown = realloc(text, size);
      if (!grown) {
        free(text);
        fclose(file);
        return gsvae_errorf(err, "config file '%s': out of memory", path);
      }
      text = grown;
    }
    size_t got = fread(text + length, 1, size - length, file);
    length += got;
    if (got == 0) break;
  }
  int failed = ferror(file) ? errno : 0;
  fclose(file);
  int status = failed ? gsvae_errorf(err, "cannot read config file '%s': %s", path, strerror(failed))
                      : gsvae_config_load_yaml_text(config, text, length, path, err);
  free(text);
  return status;
}

/* `key=value`: the value trimmed and, when quoted, unquoted, then read like a YAML scalar. */
static int apply_override(gsvae_config *config, const char *override, char *err) {
  const char *equals = strchr(override, '=');
  if (!equals)
    return gsvae_errorf(err, "'%.*s' is not a key=value override (nor a config file: those end in .yaml or .yml)",
                        SHOWN, override);
  char key[NAME_LEN], value[GSVAE_PATH_LEN + 8];
  size_t key_length = (size_t)(equals - override);
  while (key_length && (override[key_length - 1] == ' ')) key_length--;
  const char *value_start = equals + 1;
  while (*value_start == ' ') value_start++;
  size_t value_length = strlen(value_start);
  while (value_length && value_start[value_length - 1] == ' ') value_length--;
  if (key_length == 0) return gsvae_errorf(err, "override '%.*s' has no key before '='", SHOWN, override);
  if (key_length >= sizeof key) return unknown_key(override, err);
  if (value_length >= sizeof value)
    return gsvae_errorf(err, "override '%.*s...': the value is too long", SHOWN, override);
  memcpy(key, override, key_length);
  key[key_length] = '\0';
  if (value_length >= 2 && (value_start[0] == '"' || value_start[0] == '\'') &&
      value_start[value_length - 1] == value_start[0])
    value_start++, value_length -= 2;
  memcpy(value, value_start, value_length);
  value[value_length] = '\0';
  return gsvae_config_set(config, key, value, err);
}

int gsvae_config_load(gsvae_config *config, const char *yaml_path, int override_count, char *const *overrides,
                      char *err) {
  gsvae_config_defaults(config);
  if (yaml_path && load_file(config, yaml_path, err)) return -1;
  for (int i = 0; i < override_count; i++)
    if (apply_override(config, overrides[i], err)) return -1;
  return gsvae_config_check(config, err);
}
