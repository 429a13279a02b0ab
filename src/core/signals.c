/* Stop signals as a flag (see signals.h), taken by a thread of their own. The threads that compute
 * block them: oneDNN 2.6's JIT'd GEMM kernels point rsp into a heap workspace while they run, and
 * a signal frame pushed there by the kernel corrupts the heap (oneDNN issue #4845, fixed after
 * the version Debian ships); one in about 14 SIGUSR1 stops of a oneDNN build crashed so. Threads
 * started before gsvae_signals_install (Open MPI's, OpenBLAS's pool) keep the handler, which only
 * stores the signal number, since nothing else is async-signal-safe. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/signals.h"

static const int stop_signals[] = {SIGTERM, SIGINT, SIGUSR1};
enum { STOP_SIGNAL_COUNT = sizeof stop_signals / sizeof stop_signals[0] };

static atomic_int received_signal = 0;
static sigset_t stop_set;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void note_signal(int signal_number) {
  int none = 0;
  atomic_compare_exchange_strong(&received_signal, &none, signal_number);
}

static void on_stop_signal(int signal_number) { note_signal(signal_number); }

/* The first stop signal raises the flag; then the signals get their default action and this
 * thread stops blocking them, so that a second one ends the process at once. */
static void *watch_stop_signals(void *unused) {
  (void)unused;
  int signal_number;
  if (sigwait(&stop_set, &signal_number) != 0) return NULL;
  note_signal(signal_number);
  struct sigaction default_action;
  memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  for (int i = 0; i < STOP_SIGNAL_COUNT; i++) sigaction(stop_signals[i], &default_action, NULL);
  pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL);
  for (;;) pause();
  return NULL;
}

static void install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigemptyset(&stop_set);
  for (int i = 0; i < STOP_SIGNAL_COUNT; i++) {
    if (sigaction(stop_signals[i], &action, NULL) != 0)
      gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot install the handler for signal %d", stop_signals[i]);
    sigaddset(&stop_set, stop_signals[i]);
  }
  /* blocked here, so in every thread this one starts from now on, the watcher among them */
  int status = pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
  if (status) gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot block the stop signals: %s", strerror(status));
  pthread_t watcher;
  pthread_attr_t attributes;
  if ((status = pthread_attr_init(&attributes)) ||
      (status = pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED)) ||
      (status = pthread_create(&watcher, &attributes, watch_stop_signals, NULL)))
    gsvae_abort(GSVAE_EXIT_RUNTIME, "cannot start the stop signals' thread: %s", strerror(status));
  pthread_attr_destroy(&attributes);
}

void gsvae_signals_install(void) {
  int status = pthread_once(&install_once, install);
  if (status) gsvae_abort(GSVAE_EXIT_RUNTIME, "installing the stop signals' handling: %s", strerror(status));
}

int gsvae_signal_received(void) { return atomic_load(&received_signal); }
