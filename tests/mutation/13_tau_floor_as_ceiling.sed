# file: src/core/tau_schedule.c
# what: the exp schedule's floor taken as a ceiling: min(tau.min, ...)
s|case GSVAE_TAU_EXP: return fmax(tau_min,|case GSVAE_TAU_EXP: return fmin(tau_min,|
