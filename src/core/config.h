/* The run configuration: one table of keys (name, type, default, range, help) drives YAML
 * parsing, dotted command-line overrides, validation, `gsvae config --help`, and the resolved
 * YAML stored in run.h5 and checkpoints. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "core/check.h"
#include "core/estimator_table.h"

#define GSVAE_MAX_HIDDEN 8
#define GSVAE_PATH_LEN 4096

typedef enum { GSVAE_BINARIZE_NONE, GSVAE_BINARIZE_STATIC, GSVAE_BINARIZE_DYNAMIC } gsvae_binarize;
typedef enum { GSVAE_SF_BASELINE_EMA, GSVAE_SF_BASELINE_LOO } gsvae_sf_baseline;
typedef enum { GSVAE_TAU_CONSTANT, GSVAE_TAU_EXP, GSVAE_TAU_LINEAR, GSVAE_TAU_COSINE } gsvae_tau_kind;
typedef enum { GSVAE_DEVICE_AUTO, GSVAE_DEVICE_CPU, GSVAE_DEVICE_CUDA } gsvae_device_kind;
typedef enum { GSVAE_PRECISION_FP32, GSVAE_PRECISION_TF32, GSVAE_PRECISION_BF16 } gsvae_precision;
typedef enum { GSVAE_COMM_NCCL, GSVAE_COMM_MPI } gsvae_comm_kind;
typedef enum { GSVAE_OPTIMIZER_ADAM, GSVAE_OPTIMIZER_RADAM } gsvae_optimizer;

typedef struct {
  /* data.* */
  char data_dir[GSVAE_PATH_LEN];   /* the four MNIST-layout IDX files, gz or not */
  gsvae_binarize data_binarize;    /* none | static | dynamic */
  /* model.* */
  int model_latents;               /* L */
  int model_categories;            /* K */
  int model_hidden[GSVAE_MAX_HIDDEN]; /* encoder sizes; the decoder mirrors them */
  int model_hidden_count;
  bool model_logits_relu;          /* ReLU after the logits layer (the seed's quirk) */
  /* train.* */
  int train_epochs;
  long train_max_steps;            /* 0: no cap */
  int train_batch;                 /* the global batch */
  gsvae_optimizer train_optimizer; /* adam | radam (model/optimizer_step.h) */
  double train_lr;
  double train_beta1, train_beta2, train_eps; /* Adam's and RAdam's, PyTorch's defaults */
  uint64_t train_seed;
  gsvae_estimator train_estimator; /* gs | st | st_softmax | gst | grmck | reinmax | sf */
  double train_estimator_gap;      /* gst: the gap kappa */
  int train_estimator_samples;     /* grmck: conditional Gumbel draws K; sf: decoded samples per input */
  gsvae_sf_baseline train_sf_baseline; /* sf: ema | loo */
  double train_sf_decay;           /* sf with ema: the moving average's decay */
  bool train_unrelaxed;            /* the unrelaxed objective on every step's batch */
  bool train_flush_denormals;      /* FTZ+DAZ in the threads doing model math (src/cpu/float_mode.c) */
  int train_max_bad_steps;         /* non-finite steps in a row before training stops */
  bool train_deterministic;        /* the same bits on any number of ranks (docs/determinism.md) */
  int train_reduce_chunks;         /* C: the chunks of a global batch whose gradients are folded in order */
  /* tau.* */
  gsvae_tau_kind tau_schedule;
  double tau_init, tau_min, tau_rate;
  long tau_every;
  bool tau_learn;                  /* log tau is a parameter trained by the optimizer (from tau.init) */
  /* run.* */
  char run_dir[GSVAE_PATH_LEN];
  long run_log_every;
  long run_ckpt_every;             /* 0: only at epoch ends and the end */
  int run_keep;                    /* newest checkpoints kept */
  int run_keep_every;              /* 0: off; else every k-th checkpoint is kept forever */
  char run_resume[GSVAE_PATH_LEN]; /* auto | never | PATH */
  double run_watchdog;             /* seconds without a step boundary before a rank ends the job; 0: off */
  /* device.* */
  gsvae_device_kind device_backend; /* auto | cpu | cuda */
  gsvae_precision device_precision; /* fp32 | tf32 | bf16 */
  bool device_graphs;              /* capture the step as a CUDA graph */
  gsvae_comm_kind device_comm;     /* GPU ranks reduce over NCCL, or over MPI through pinned host memory */
  bool device_shared_memory;       /* CPU ranks on one node exchange through a shared-memory window */
  double device_timeout;           /* seconds a GPU rank waits on its peers' collective before aborting it */
} gsvae_config;

/* "adam" or "radam". */
const char *gsvae_optimizer_word(gsvae_optimizer optimizer);

/* The seed's setup. */
void gsvae_config_defaults(gsvae_config *config);

/* Sets one dotted key from its text form; returns 0, or -1 with a message in err naming the
 * key, the value and what was expected (an unknown key names the closest valid one). */
int gsvae_config_set(gsvae_config *config, const char *key, const char *value, char *err);

/* Defaults, then the YAML file (NULL: none), then `key=value` overrides in order, then the
 * cross-key checks. Returns 0, or -1 with a message naming the file, key or value. */
int gsvae_config_load(gsvae_config *config, const char *yaml_path, int override_count, char *const *overrides,
                      char *err);
/* Parses YAML text (nested mappings or dotted keys) into config; source names it in errors. */
int gsvae_config_load_yaml_text(gsvae_config *config, const char *text, size_t length, const char *source, char *err);

/* The checks across keys that gsvae_config_load ends with, for a config changed after loading;
 * 0, or -1 with a message. */
int gsvae_config_check(const gsvae_config *config, char *err);

/* The resolved config as YAML (nested, every key); malloc'd, the caller frees. */
char *gsvae_config_to_yaml(const gsvae_config *config);
/* Every key: name, type, default, range and help. */
void gsvae_config_print_help(FILE *out);
