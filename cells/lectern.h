/* lectern.h: what a C cell needs from Lectern: the page's named ports, as lectern.ts and
 * lectern.py give them. Under Lectern, LECTERN_PORT_<NAME> holds the number of every port the
 * cell names; Lectern finds the names before running, so pass them as string literals:
 *
 *     int port = lectern_port("tcp", 12000);   // the page's port "tcp" (12000 outside Lectern)
 *
 * getenv("LECTERN_PORT_TCP") works as well. */
#ifndef LECTERN_H
#define LECTERN_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

/* The page's port called `name`; outside Lectern LECTERN_PORT_<NAME>, else `fallback` (0: none, exit). */
static inline int lectern_port(const char *name, int fallback) {
  char var[96] = "LECTERN_PORT_";
  size_t n = 13;
  for (const char *c = name; *c && n < sizeof var - 1; c++) var[n++] = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
  var[n] = '\0';
  const char *raw = getenv(var);
  if (raw && *raw) {
    char *end;
    long port = strtol(raw, &end, 10);
    if (*end == '\0' && port > 0 && port < 65536) return (int)port;
    fprintf(stderr, "%s=%s is not a port number (1-65535)\n", var, raw);
    exit(2);
  }
  if (fallback > 0) return fallback;
  fprintf(stderr, "lectern_port(\"%s\") has no number: run this under Lectern, set %s, or pass a fallback\n", name, var);
  exit(2);
}

/* The address of the page's network host `name` (a ```network block); outside Lectern
 * LECTERN_HOST_<NAME>, else `fallback` (NULL: none, exit). */
static inline const char *lectern_host(const char *name, const char *fallback) {
  char var[96] = "LECTERN_HOST_";
  size_t n = 13;
  for (const char *c = name; *c && n < sizeof var - 1; c++) var[n++] = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
  var[n] = '\0';
  const char *raw = getenv(var);
  if (raw && *raw) return raw;
  if (fallback) return fallback;
  fprintf(stderr, "lectern_host(\"%s\") has no address: run this under Lectern on a page with that host, set %s, or pass a fallback\n", name, var);
  exit(2);
}

#endif
