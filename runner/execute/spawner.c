/* Lectern's spawner: starts cells' processes on Lectern's behalf. Node's spawn() forks the whole
 * Node process, whose page tables grow with its memory: 7 ms for a bare node, 12 to 16 ms for
 * Lectern's, every cell, with Lectern's event loop stopped meanwhile. This small process forks in
 * under a millisecond. It runs beside Lectern for as long as Lectern does (spawner.ts).
 *
 * Requests, on stdin: a decimal length, a newline, then that many bytes of NUL-ended fields:
 *   ID  SOCKET  CWD  LAYOUT  SESSION  NFILES  FILE...  ARGC  ARG...  ENVC  ENV...
 * LAYOUT says what each of the child's first descriptors is, one letter each: `s` a Unix socket
 * connected to Lectern's SOCKET, announced by a 16-byte hello (the ID in 14 digits, the
 * descriptor's number, a newline); `n` /dev/null; `f` the next FILE, opened for writing (a file
 * of Lectern's, by its /proc/PID/fd path: a cell's trace file, tcpdump's pcap). SESSION, bits:
 * 1, the child leads a session of its own (Node's `detached`); 2, ARG... is a command line of
 * the enter helper (enter.c), whose work the child does itself before it execs the command after
 * `--`: one exec fewer for every cell. The child gets default signal handling, CWD, and exactly
 * ENV.
 *
 * Answers, on stdout, one line each: `spawned ID PID INODES` (INODES: those of the child's ends
 * of its `s` sockets, comma-separated, or `-`), `failed ID ERRNO` (nothing started), and
 * later `exit ID CODE SIGNAL` (CODE -1 when killed by SIGNAL, SIGNAL 0 when it exited).
 *
 * It dies with Lectern (PR_SET_PDEATHSIG), and exits when Lectern closes its stdin. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LECTERN_ENTER_INLINE
#include "enter.c"

#define MAX_FDS 8
#define MAX_REQUEST (16 << 20)
#define MAX_CHILDREN 4096

extern char **environ;

/* The children still running, by pid, with Lectern's ID for each. */
static struct {
  pid_t pid;
  char id[16];
} children[MAX_CHILDREN];

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void answer(const char *fmt, ...) {
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  for (int off = 0; off < n;) {
    ssize_t w = write(1, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(0); /* Lectern is gone. */
    off += w;
  }
}

static int read_full(int fd, char *buf, size_t len) {
  for (size_t got = 0; got < len;) {
    ssize_t r = read(fd, buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += r;
  }
  return 0;
}

static int connect_stream(const char *path, const char *id, int fd) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -ENAMETOOLONG;
  strcpy(addr.sun_path, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -errno;
  char hello[17];
  snprintf(hello, sizeof hello, "%014lld%d\n", atoll(id), fd);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0 || write(s, hello, 16) != 16) {
    int err = errno;
    close(s);
    return -err;
  }
  return s;
}

/* Every descriptor from `from` up closes at exec: those Lectern itself was handed without
 * close-on-exec by whatever started it are not the cell's to have. */
static void cloexec_from(int from) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)from, ~0U, 4U /* CLOSE_RANGE_CLOEXEC, Linux 5.11 */) == 0) return;
#endif
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return;
  for (struct dirent *e; (e = readdir(dir));) {
    int fd = atoi(e->d_name);
    if (fd >= from && fd != dirfd(dir)) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  closedir(dir);
}

/* In the child: the descriptors onto 0..n-1, then COMMAND. Never returns. */
static void become(int *fds, int n, int session, char *cwd, char **argv, char **envp, int report) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
  if (session & 1) setsid();
  /* Out of the way first (closed by exec): a descriptor may be another's target. */
  for (int i = 0; i < n; i++) fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
  for (int i = 0; i < n; i++)
    if (fds[i] < 0 || dup2(fds[i], i) < 0) goto fail;
  /* Never Lectern's own pipes to this process, whatever was asked. */
  for (int i = n; i < 3; i++) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, i) < 0) goto fail;
    if (null != i) close(null);
  }
  cloexec_from(n > 3 ? n : 3);
  if (cwd[0] && chdir(cwd) != 0) goto fail;
  environ = envp;
  if (session & 2) {
    /* What the helper would do, here. Its errors go to the child's stderr, as the helper's do,
     * and it ends with the helper's status (125, 127); an exec that works closes the report. */
    int argc = 0;
    while (argv[argc]) argc++;
    _exit(enter_main(argc, argv));
  }
  execvp(argv[0], argv);
fail:;
  int err = errno;
  ssize_t ignored = write(report, &err, sizeof err);
  (void)ignored;
  _exit(127);
}

/* The descriptor LAYOUT asks for at position i, or -errno. */
static int open_fd(char kind, const char *sock, const char *id, int i, char ***files) {
  if (kind == 's') return connect_stream(sock, id, i);
  if (kind == 'n') {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }
  if (kind == 'f' && **files) {
    int fd = open(*(*files)++, O_WRONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }
  return -EINVAL;
}

static void start(char *req, size_t len) {
  /* The fields, NULL-ended, in an array kept from one request to the next. */
  static char **fields;
  static size_t room;
  size_t count = 0, need = 2;
  for (size_t i = 0; i < len; i++) need += req[i] == '\0';
  if (need > room) {
    char **grown = realloc(fields, need * sizeof *fields);
    if (!grown) return answer("failed 0 %d\n", ENOMEM);
    fields = grown;
    room = need;
  }
  for (char *p = req; p < req + len; p += strlen(p) + 1) fields[count++] = p;
  fields[count] = NULL;
  const char *id = count > 0 ? fields[0] : "0";
  if (count < 7) return answer("failed %s %d\n", id, EINVAL);
  const char *sock = fields[1], *layout = fields[3];
  char *cwd = fields[2];
  int session = atoi(fields[4]);
  size_t nfiles = strtoul(fields[5], NULL, 10);
  size_t at = 6 + nfiles;
  if (strlen(layout) > MAX_FDS || at + 1 >= count) return answer("failed %s %d\n", id, EINVAL);
  size_t argc = strtoul(fields[at], NULL, 10);
  if (argc == 0 || at + argc + 2 > count) return answer("failed %s %d\n", id, EINVAL);
  size_t envc = strtoul(fields[at + 1 + argc], NULL, 10);
  if (at + 2 + argc + envc != count) return answer("failed %s %d\n", id, EINVAL);
  /* The files end where ARGC was, argv where ENVC was; envp at the fields' own end. */
  char **files = fields + 6, **argv = fields + at + 1, **envp = fields + at + 2 + argc;
  fields[at] = NULL;
  fields[at + 1 + argc] = NULL;
  int fds[MAX_FDS], n = 0, err = 0;
  for (; layout[n]; n++)
    if ((fds[n] = open_fd(layout[n], sock, id, n, &files)) < 0) {
      err = -fds[n];
      break;
    }
  int report[2];
  if (!err && pipe2(report, O_CLOEXEC) != 0) err = errno;
  pid_t pid = -1;
  if (!err) {
    pid = fork();
    if (pid == 0) become(fds, n, session, cwd, argv, envp, report[1]);
    if (pid < 0) err = errno;
    close(report[1]);
    /* Until exec succeeds (the pipe closes empty) or the child says why it failed, as libuv does. */
    int child_err = 0;
    if (pid > 0 && read_full(report[0], (char *)&child_err, sizeof child_err) == 0) err = child_err;
    close(report[0]);
  }
  /* The child's ends of its sockets, by inode: Lectern then knows them in the child's descriptors. */
  char inodes[MAX_FDS * 21 + 1] = "";
  struct stat st;
  for (int i = 0, at = 0; i < n && !err; i++)
    if (layout[i] == 's' && fstat(fds[i], &st) == 0)
      at += snprintf(inodes + at, sizeof inodes - at, "%s%llu", at ? "," : "", (unsigned long long)st.st_ino);
  for (int i = 0; i < n; i++) close(fds[i]);
  if (err) {
    if (pid > 0) waitpid(pid, NULL, 0);
    return answer("failed %s %d\n", id, err);
  }
  for (int i = 0; i < MAX_CHILDREN; i++)
    if (children[i].pid == 0) {
      children[i].pid = pid;
      snprintf(children[i].id, sizeof children[i].id, "%s", id);
      return answer("spawned %s %d %s\n", id, (int)pid, inodes[0] ? inodes : "-");
    }
  /* No room to remember it: it runs, but its end would go unreported. */
  kill(-pid, SIGKILL);
  waitpid(pid, NULL, 0);
  answer("failed %s %d\n", id, EAGAIN);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CHILDREN; i++) {
      if (children[i].pid != pid) continue;
      children[i].pid = 0;
      if (WIFSIGNALED(status)) answer("exit %s -1 %d\n", children[i].id, WTERMSIG(status));
      else answer("exit %s %d 0\n", children[i].id, WEXITSTATUS(status));
      break;
    }
  }
}

int main(void) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) return 125;
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 125;
  struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 125;
    }
    if (fds[1].revents) {
      struct signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) > 0) {
      }
      reap();
    }
    if (fds[0].revents) {
      char header[24];
      size_t h = 0;
      /* The length line, a byte at a time: nothing of the request after it is read early. */
      while (h < sizeof header - 1 && read_full(0, header + h, 1) == 0 && header[h] != '\n') h++;
      if (h == 0 || h >= sizeof header - 1 || header[h] != '\n') return 0; /* Lectern is gone, or talks nonsense. */
      header[h] = '\0';
      size_t len = strtoul(header, NULL, 10);
      if (len == 0 || len > MAX_REQUEST) return 125;
      char *req = malloc(len + 1);
      if (!req || read_full(0, req, len) != 0) return 0;
      req[len] = '\0';
      start(req, len);
      free(req);
    }
  }
}
