/* Files, shared by the compiler and the runtime: whole-file reads that refuse FIFOs and
 * devices, mkdir -p, atomic writes, and temporary files and folders that are removed on
 * every exit path (normal exit, error, SIGINT, SIGTERM, SIGHUP).
 *
 * Temporary names are ".sinter-tmp-<pid>-<random>": a run killed with SIGKILL leaves them
 * behind, and the next run that makes a temporary in the same folder removes those whose
 * pid is no longer alive. Every function returns a status with a message naming the file. */
#ifndef SINTER_FILE_H
#define SINTER_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sinter/error.h"

/* The prefix of every temporary file and folder sinter makes. */
#define SNT_FILE_TMP_PREFIX ".sinter-tmp-"

/* Opens `path` for reading, refusing anything but a regular file (a FIFO is opened without
 * blocking, then refused). On success *fd is a blocking descriptor and *size its length. */
snt_status snt_file_open_regular(const char *path, int *fd, uint64_t *size, snt_err *e);

/* Reads a whole regular file into a malloc'ed buffer with a NUL after the data (never NULL
 * on success, even when empty). A file over max_bytes (0: the physical memory) is refused
 * before anything is allocated. */
snt_status snt_file_read(const char *path, size_t max_bytes, uint8_t **data, size_t *len, snt_err *e);

/* The machine's physical memory in bytes (a default cap); SIZE_MAX when unknown. */
size_t snt_file_phys_memory(void);

/* mkdir -p: creates `dir` and its missing parents; an existing folder is fine. */
snt_status snt_file_mkdir_p(const char *dir, snt_err *e);

/* The directory part of `path` as a malloc'ed string ("." when it has none). */
snt_status snt_file_dirname(const char *path, char **out, snt_err *e);

/* Atomic replacement of a file, streamed: open a temporary beside `path` (registered for
 * cleanup), write to a.fd, then commit (fsync, rename over `path`, fsync the folder) or
 * abandon (remove). A writer killed halfway leaves the old file intact. */
typedef struct snt_file_atomic {
  int fd;
  int slot;   /* in the cleanup list, -1 when none */
  char *path; /* the file to replace */
  char *tmp;  /* the temporary beside it */
} snt_file_atomic;

snt_status snt_file_atomic_open(const char *path, snt_file_atomic *a, snt_err *e);
snt_status snt_file_atomic_commit(snt_file_atomic *a, snt_err *e);
void snt_file_atomic_abandon(snt_file_atomic *a);
/* The whole cycle for bytes in memory. */
snt_status snt_file_write_atomic(const char *path, const void *data, size_t len, snt_err *e);
/* write(2) until done (retrying EINTR); `name` for the message. */
snt_status snt_file_write_all(int fd, const char *name, const void *data, size_t len, snt_err *e);
/* pwrite(2) until done. */
snt_status snt_file_pwrite_all(int fd, const char *name, const void *data, size_t len, uint64_t offset, snt_err *e);

/* A fresh temporary folder ".sinter-tmp-<pid>-<random>" inside `parent` (NULL: $TMPDIR,
 * else /tmp), registered for cleanup; stale ones of dead runs in `parent` are removed
 * first. Remove it (with everything in it) with snt_file_tmpdir_remove. */
snt_status snt_file_tmpdir_create(const char *parent, char **out, snt_err *e);
void snt_file_tmpdir_remove(char *dir);

/* A fresh temporary file in `dir` (NULL: $TMPDIR, else /tmp), named
 * ".sinter-tmp-<pid>-<random><suffix>", open for writing in *fd (may be NULL: closed),
 * registered for cleanup. Remove it with snt_file_tmpfile_remove. */
snt_status snt_file_tmpfile_create(const char *dir, const char *suffix, char **out, int *fd, snt_err *e);
void snt_file_tmpfile_remove(char *path);

/* Removes ".sinter-tmp-<pid>-*" entries of `dir` whose process is no longer alive. */
void snt_file_sweep_stale(const char *dir);

/* A child process (the C compiler) to stop first when a signal ends this one, with its
 * whole process group when own_group (it was spawned as a group leader); 0: none. */
void snt_file_cleanup_child(pid_t pid, bool own_group);

#endif
