// MEASUREMENT ONLY, never for a receiver that keeps real events: an
// LD_PRELOAD library that holds pwrite()s to files named *-wal and writes
// them with one call at the next fsync, fdatasync, pread, ftruncate, fstat
// or close of that descriptor. It shows what SQLite's two writes per WAL
// frame cost a receiver (BENCHMARKS.md, "one write per batch of WAL
// frames"); a real version would be a SQLite VFS shim.
//
//   gcc -O2 -shared -fPIC -o /tmp/walbuf.so scripts/wal-writes-preload.c -ldl
//   printf '#!/bin/sh\nLD_PRELOAD=/tmp/walbuf.so exec %s "$@"\n' BINARY > /tmp/b && chmod +x /tmp/b
//   python3 scripts/cpu-per-event.py --a BINARY --b /tmp/b --load LOAD ...
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAXFD 4096
#define CAP (4 << 20)
static char is_wal[MAXFD];
static char *buf[MAXFD];
static off_t start[MAXFD];
static size_t len[MAXFD];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_pread64)(int, void *, size_t, off_t);
static int (*real_fsync)(int), (*real_fdatasync)(int), (*real_close)(int), (*real_ftruncate)(int, off_t);
static int (*real_open64)(const char *, int, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_fstat)(int, struct stat64 *);

static void init(void) {
  if (real_pwrite64) return;
  real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
  real_pread64 = dlsym(RTLD_NEXT, "pread64");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_close = dlsym(RTLD_NEXT, "close");
  real_ftruncate = dlsym(RTLD_NEXT, "ftruncate64");
  real_open64 = dlsym(RTLD_NEXT, "open64");
  real_open = dlsym(RTLD_NEXT, "open");
  real_fstat = dlsym(RTLD_NEXT, "fstat64");
}
static int flush(int fd) {
  if (fd < 0 || fd >= MAXFD || !len[fd]) return 0;
  size_t done = 0;
  while (done < len[fd]) {
    ssize_t n = real_pwrite64(fd, buf[fd] + done, len[fd] - done, start[fd] + done);
    if (n <= 0) { len[fd] = 0; return -1; }
    done += n;
  }
  len[fd] = 0;
  return 0;
}
static void mark(const char *path, int fd) {
  if (fd < 0 || fd >= MAXFD) return;
  size_t n = strlen(path);
  pthread_mutex_lock(&mu);
  is_wal[fd] = n > 4 && !strcmp(path + n - 4, "-wal");
  len[fd] = 0;
  if (is_wal[fd] && !buf[fd]) buf[fd] = malloc(CAP);
  pthread_mutex_unlock(&mu);
}
int open64(const char *path, int flags, ...) {
  init(); va_list ap; va_start(ap, flags); mode_t m = va_arg(ap, int); va_end(ap);
  int fd = real_open64(path, flags, m); mark(path, fd); return fd;
}
int open(const char *path, int flags, ...) {
  init(); va_list ap; va_start(ap, flags); mode_t m = va_arg(ap, int); va_end(ap);
  int fd = real_open(path, flags, m); mark(path, fd); return fd;
}
ssize_t pwrite64(int fd, const void *p, size_t n, off_t off) {
  init();
  if (fd < 0 || fd >= MAXFD || !is_wal[fd]) return real_pwrite64(fd, p, n, off);
  pthread_mutex_lock(&mu);
  if (len[fd] && (off != start[fd] + (off_t)len[fd] || len[fd] + n > CAP)) flush(fd);
  if (n > CAP) { pthread_mutex_unlock(&mu); return real_pwrite64(fd, p, n, off); }
  if (!len[fd]) start[fd] = off;
  memcpy(buf[fd] + len[fd], p, n); len[fd] += n;
  pthread_mutex_unlock(&mu);
  return n;
}
ssize_t pwrite(int fd, const void *p, size_t n, off_t off) { return pwrite64(fd, p, n, off); }
#define FLUSHING(call) pthread_mutex_lock(&mu); if (fd >= 0 && fd < MAXFD && is_wal[fd]) flush(fd); pthread_mutex_unlock(&mu); return call
ssize_t pread64(int fd, void *p, size_t n, off_t off) { init(); FLUSHING(real_pread64(fd, p, n, off)); }
ssize_t pread(int fd, void *p, size_t n, off_t off) { return pread64(fd, p, n, off); }
int fsync(int fd) { init(); FLUSHING(real_fsync(fd)); }
int fdatasync(int fd) { init(); FLUSHING(real_fdatasync(fd)); }
int ftruncate64(int fd, off_t l) { init(); FLUSHING(real_ftruncate(fd, l)); }
int ftruncate(int fd, off_t l) { return ftruncate64(fd, l); }
int fstat64(int fd, struct stat64 *s) { init(); FLUSHING(real_fstat(fd, s)); }
int fstat(int fd, struct stat *s) { return fstat64(fd, (struct stat64 *)s); }
int close(int fd) {
  init();
  pthread_mutex_lock(&mu);
  if (fd >= 0 && fd < MAXFD && is_wal[fd]) { flush(fd); is_wal[fd] = 0; }
  pthread_mutex_unlock(&mu);
  return real_close(fd);
}
