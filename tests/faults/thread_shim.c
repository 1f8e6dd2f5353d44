// Test shim (LD_PRELOAD): pthread_create fails with EAGAIN, as under RLIMIT_NPROC, once the
// process runs PMAP_SHIM_MAX_THREADS threads. Lets the fault tests make thread creation fail for
// any user, root included (whom RLIMIT_NPROC does not bind), at a chosen thread count.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// Threads of this process now (the Threads: line of /proc/self/status), -1 if unknown.
static long current_threads(void) {
  FILE* status = fopen("/proc/self/status", "re");
  if (status == NULL) return -1;
  char line[256];
  long threads = -1;
  while (fgets(line, sizeof line, status) != NULL) {
    if (strncmp(line, "Threads:", 8) == 0) {
      threads = strtol(line + 8, NULL, 10);
      break;
    }
  }
  fclose(status);
  return threads;
}

typedef int (*create_fn)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*),
                   void* arg) {
  static create_fn real = NULL;
  if (real == NULL) real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  const char* limit = getenv("PMAP_SHIM_MAX_THREADS");
  if (limit != NULL && *limit != '\0') {
    const long threads = current_threads();
    if (threads >= 0 && threads >= strtol(limit, NULL, 10)) return EAGAIN;
  }
  return real(thread, attr, start, arg);
}
