/* Linked into every C cell Lectern compiles, as cells/preload.ts is loaded into TypeScript ones:
 * output line by line as on a terminal, SIGTERM back to its default (the sandbox starts cells
 * with it ignored), the loopback guard where cells share the machine's network (as
 * cells/guard.ts: against mistakes, not a wall), and every socket call that fails reported by its errno name on the side
 * channel (how expect=ECONNREFUSED is judged), and each socket's own address once it has one
 * (so the wire trace names this cell at its end of a connection, even one that lasted less than
 * a look at the socket tables). The socket calls are wrapped at link time (ld --wrap=connect
 * ...): the cell's own code is not changed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int channel = -1;
/* What --allow-net named (comma-separated addresses, HOST or HOST:PORT), or NULL: no guard. */
static char *allowed = NULL;
/* Sockets whose address was said already, by descriptor: a datagram socket says it once. */
static unsigned char named[4096];

__attribute__((constructor)) static void lectern_start(void) {
  signal(SIGTERM, SIG_DFL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *allow = getenv("LECTERN_ALLOW_NET");
  if (allow != NULL) {
    allowed = strdup(allow);
    unsetenv("LECTERN_ALLOW_NET");
  }
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

/* The socket's own address, as the trace writes addresses: `ip:port`, `[ip6]:port`, IPv4-mapped as IPv4. */
static void name_socket(int fd) {
  if (channel < 0 || fd < 0 || (fd < (int)sizeof named && named[fd])) return;
  struct sockaddr_storage a;
  socklen_t n = sizeof a;
  int type;
  socklen_t tn = sizeof type;
  if (getsockname(fd, (struct sockaddr *)&a, &n) < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tn) < 0) return;
  char host[INET6_ADDRSTRLEN];
  unsigned port;
  int v6 = 0;
  if (a.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&a;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
    else inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host), v6 = 1;
    port = ntohs(in6->sin6_port);
  } else {
    return;
  }
  if (port == 0 || (type != SOCK_STREAM && type != SOCK_DGRAM)) return;
  if (fd < (int)sizeof named) named[fd] = 1;
  char line[160];
  int len = snprintf(line, sizeof line, "{\"type\":\"socket\",\"proto\":\"%s\",\"local\":\"%s%s%s:%u\"}\n", type == SOCK_STREAM ? "tcp" : "udp", v6 ? "[" : "", host, v6 ? "]" : "", port);
  if (len > 0 && write(channel, line, (size_t)len) < 0) channel = -1;
}

/* Whether `list` (a,b,c) holds `item` as one of its entries. */
static int listed(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
    if (strncmp(p, item, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
  }
  return 0;
}

/* 0 when the cell may reach `a`; else -1 with errno EACCES, said on stderr in the guard's words. */
static int guard(const struct sockaddr *a) {
  if (allowed == NULL || a == NULL) return 0;
  char host[INET6_ADDRSTRLEN], hostport[INET6_ADDRSTRLEN + 8];
  unsigned port;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)a;
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) return 0;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127)) return 0;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  } else {
    return 0; /* a Unix socket, say: not the network */
  }
  snprintf(hostport, sizeof hostport, "%s:%u", host, port);
  if (listed(allowed, host) || listed(allowed, hostport)) return 0;
  fprintf(stderr, "connect EACCES %s: Lectern lets cells reach only loopback; run with --allow-net=%s to allow it\n", hostport, host);
  report(EACCES);
  errno = EACCES;
  return -1;
}

/* A wrapped call: on failure its errno is reported; `fd` names its socket (-1: none). */
#define OBSERVED(ret, name, params, args, fd, names, guarded, to) \
  ret __real_##name params;                           \
  ret __wrap_##name params {                          \
    if (guarded && guard(to) < 0) return -1;          \
    ret r = __real_##name args;                       \
    int err = errno;                                  \
    if (r < 0) report(err);                           \
    if (names && (r >= 0 || err == ECONNREFUSED || err == EINPROGRESS)) name_socket(fd); \
    errno = err;                                      \
    return r;                                         \
  }

int __real_close(int fd);
int __wrap_close(int fd) {
  if (fd >= 0 && fd < (int)sizeof named) named[fd] = 0;
  return __real_close(fd);
}

OBSERVED(int, connect, (int fd, const struct sockaddr *a, socklen_t n), (fd, a, n), fd, 1, 1, a)
OBSERVED(int, bind, (int fd, const struct sockaddr *a, socklen_t n), (fd, a, n), fd, 1, 0, NULL)
OBSERVED(int, listen, (int fd, int backlog), (fd, backlog), fd, 0, 0, NULL)
OBSERVED(int, accept, (int fd, struct sockaddr *a, socklen_t *n), (fd, a, n), fd, 0, 0, NULL)
OBSERVED(ssize_t, send, (int fd, const void *b, size_t n, int f), (fd, b, n, f), fd, 0, 0, NULL)
OBSERVED(ssize_t, sendto, (int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l), (fd, b, n, f, a, l), fd, 1, 1, a)
OBSERVED(ssize_t, recv, (int fd, void *b, size_t n, int f), (fd, b, n, f), fd, 0, 0, NULL)
OBSERVED(ssize_t, recvfrom, (int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l), (fd, b, n, f, a, l), fd, 0, 0, NULL)
