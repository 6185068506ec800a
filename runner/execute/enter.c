/* A confined cell's first process, in place of `sh -c JOIN` then `nsenter --net`: it writes its
 * own pid into each of the cell's cgroups before it execs anything (so bwrap's fork of the cell
 * starts inside its limits), enters the page's network namespace, ignores SIGTERM (bwrap inherits
 * that; the cell under it resets it), then becomes COMMAND. One small exec instead of two.
 * Lectern compiles it with cc once (enter.ts); without cc it uses sh and nsenter as before.
 * Lectern's own helpers in a namespace (tcpdump) start through it too, with --pdeathsig: they die
 * with Lectern, even SIGKILLed, as under `setpriv --pdeathsig KILL`, one exec fewer.
 *
 *   enter [--net=PATH] [--ignore-term] [--pdeathsig] CGROUP_DIR... -- COMMAND ARGS...
 *
 * A cgroup it cannot join is passed over, as the shell did (`2>/dev/null`): the cell's process
 * group and timeout still bound it. A namespace it cannot enter is an error (exit 125): the cell
 * must never run in Lectern's own network.
 *
 * The spawner (spawner.c) includes this file and does the same in the child it forks, without
 * this exec, when Lectern asks it to start this helper: the program itself is for Node's
 * spawn(), where there is no spawner. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void join_cgroup(const char *dir, const char *pid) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) return;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t ignored = write(fd, pid, strlen(pid));
  (void)ignored;
  close(fd);
}

static int enter_main(int argc, char **argv) {
  const char *net = NULL;
  int i = 1;
  char pid[32];
  snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (; i < argc && strncmp(argv[i], "--", 2) == 0 && argv[i][2] != '\0'; i++) {
    if (strncmp(argv[i], "--net=", 6) == 0) net = argv[i] + 6;
    else if (strcmp(argv[i], "--ignore-term") == 0) signal(SIGTERM, SIG_IGN);
    else if (strcmp(argv[i], "--pdeathsig") == 0) {
      // Lectern may have died before this took hold: then nobody would ever stop us.
      pid_t parent = getppid();
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) return 125;
    }
    else {
      fprintf(stderr, "lectern enter: unknown option %s\n", argv[i]);
      return 125;
    }
  }
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) join_cgroup(argv[i], pid);
  if (i + 1 >= argc) {
    fprintf(stderr, "lectern enter: no command after --\n");
    return 125;
  }
  if (net != NULL) {
    int fd = open(net, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      perror("lectern enter: the page's network namespace");
      return 125;
    }
    close(fd);
  }
  execvp(argv[i + 1], argv + i + 1);
  fprintf(stderr, "lectern enter: %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}

#ifndef LECTERN_ENTER_INLINE
int main(int argc, char **argv) { return enter_main(argc, argv); }
#endif
