/* Linked into every C cell Lectern compiles, as cells/preload.ts is loaded into TypeScript ones:
 * output line by line as on a terminal, SIGTERM back to its default (the sandbox starts cells
 * with it ignored), and every socket call that fails reported by its errno name on the side
 * channel (how expect=ECONNREFUSED is judged). The socket calls are wrapped at link time
 * (ld --wrap=connect ...): the cell's own code is not changed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int channel = -1;

__attribute__((constructor)) static void lectern_start(void) {
  signal(SIGTERM, SIG_DFL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *fd = getenv("LECTERN_CHANNEL");
  if (fd == NULL) return;
  channel = atoi(fd);
  unsetenv("LECTERN_CHANNEL");
  /* The programs the cell starts never write into the channel. */
  if (channel > 2) fcntl(channel, F_SETFD, FD_CLOEXEC);
  else channel = -1;
}

static void report(int err) {
  if (channel < 0 || err == EINTR || err == EAGAIN || err == EINPROGRESS) return;
  const char *name = strerrorname_np(err);
  if (name == NULL) return;
  char line[96];
  int n = snprintf(line, sizeof line, "{\"type\":\"error\",\"code\":\"%s\"}\n", name);
  if (n > 0 && write(channel, line, (size_t)n) < 0) channel = -1;
}

#define OBSERVED(ret, name, params, args)          \
  ret __real_##name params;                        \
  ret __wrap_##name params {                       \
    ret r = __real_##name args;                    \
    if (r < 0) {                                   \
      int err = errno;                             \
      report(err);                                 \
      errno = err;                                 \
    }                                              \
    return r;                                      \
  }

OBSERVED(int, connect, (int fd, const struct sockaddr *a, socklen_t n), (fd, a, n))
OBSERVED(int, bind, (int fd, const struct sockaddr *a, socklen_t n), (fd, a, n))
OBSERVED(int, listen, (int fd, int backlog), (fd, backlog))
OBSERVED(int, accept, (int fd, struct sockaddr *a, socklen_t *n), (fd, a, n))
OBSERVED(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f))
OBSERVED(ssize_t, sendto, (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l), (fd, b, n, f, a, l))
OBSERVED(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f))
OBSERVED(ssize_t, recvfrom, (int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l), (fd, b, n, f, a, l))
