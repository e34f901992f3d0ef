// libssh2 exposes much of its API as function-like macros, which Swift does not import.
// These static inline wrappers give Swift a callable symbol for each macro we use.
// libcrypto (already linked by libssh2's OpenSSL backend) supplies the SHA digests.
#ifndef MEGAPLAN_FLEET_CLIBSSH2_SHIM_H
#define MEGAPLAN_FLEET_CLIBSSH2_SHIM_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>
#include <sys/types.h>
#include <string.h>

static inline int mpf_channel_exec(LIBSSH2_CHANNEL *channel, const char *command) {
    return libssh2_channel_exec(channel, command);
}

static inline int mpf_channel_shell(LIBSSH2_CHANNEL *channel) { return libssh2_channel_shell(channel); }

static inline ssize_t mpf_channel_read(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read(channel, buffer, length);
}

static inline ssize_t mpf_channel_read_stderr(LIBSSH2_CHANNEL *channel, char *buffer, size_t length) {
    return libssh2_channel_read_stderr(channel, buffer, length);
}

static inline ssize_t mpf_channel_write(LIBSSH2_CHANNEL *channel, const char *buffer, size_t length) {
    return libssh2_channel_write(channel, buffer, length);
}

static inline int mpf_channel_request_pty_size(LIBSSH2_CHANNEL *channel, int width, int height) {
    return libssh2_channel_request_pty_size(channel, width, height);
}

static inline int mpf_channel_send_eof(LIBSSH2_CHANNEL *channel) { return libssh2_channel_send_eof(channel); }

static inline int mpf_userauth_publickey_fromfile(
    LIBSSH2_SESSION *session, const char *user, const char *publickey, const char *privatekey,
    const char *passphrase) {
    return libssh2_userauth_publickey_fromfile(session, user, publickey, privatekey, passphrase);
}

static inline LIBSSH2_SFTP_HANDLE *mpf_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open(sftp, path, flags, mode);
}

static inline int mpf_sftp_mkdir(LIBSSH2_SFTP *sftp, const char *path, long mode) {
    return libssh2_sftp_mkdir(sftp, path, mode);
}

/// One-shot digest over a buffer; `sha256` selects SHA-256, otherwise SHA-1.
/// Returns the digest length, or 0 on failure.
static inline unsigned int mpf_digest(int sha256, const void *data, size_t length, unsigned char *out) {
    unsigned int written = 0;
    if (EVP_Digest(data, length, out, &written, sha256 ? EVP_sha256() : EVP_sha1(), NULL) != 1) {
        return 0;
    }
    return written;
}

/* ---- SSHClient additions: I/O-thread helpers (variadic or macro APIs Swift cannot call). ---- */
#include <spawn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/// Inbound byte counter shared between a session's recv callback and its (single) I/O thread.
typedef struct { unsigned long long bytes_in; } mpf_io_counters;

static inline ssize_t mpf_counting_recv(libssh2_socket_t fd, void *buffer, size_t length, int flags, void **abstract) {
    ssize_t rc = recv(fd, buffer, length, flags);
    if (rc < 0) {
        /* libssh2's own _libssh2_recv returns -errno; ENOENT is treated as EAGAIN there too. */
        if (errno == ENOENT) return -EAGAIN;
        return -errno;
    }
    if (rc > 0 && abstract && *abstract) ((mpf_io_counters *)*abstract)->bytes_in += (unsigned long long)rc;
    return rc;
}

/// A session whose socket reads are counted into `counters` (used for dead-peer detection).
static inline LIBSSH2_SESSION *mpf_session_init_counted(mpf_io_counters *counters) {
    LIBSSH2_SESSION *session = libssh2_session_init_ex(NULL, NULL, NULL, counters);
    if (session) libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, (void *)mpf_counting_recv);
    return session;
}

static inline int mpf_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static inline int mpf_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

// glibc declares these only under _GNU_SOURCE, which Swift's Glibc module is built without.
extern int pipe2(int fds[2], int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// A pipe whose both ends are close-on-exec from the start (no window for another thread's spawn).
static inline int mpf_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/// Closes every descriptor from `from` up in the spawned child (glibc 2.34+).
static inline int mpf_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/// Bytes waiting in a socket's receive queue, or -1.
static inline int mpf_fionread(int fd) {
    int count = 0;
    if (ioctl(fd, FIONREAD, &count) < 0) return -1;
    return count;
}

/// Terminal size of `fd` (columns, rows); returns 0 on success.
static inline int mpf_terminal_size(int fd, int *columns, int *rows) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -1;
    *columns = ws.ws_col;
    *rows = ws.ws_row;
    return 0;
}

/// The receive window for bulk transfers (libssh2's default, whose macro Swift cannot import, x4).
static inline unsigned int mpf_channel_window_bulk(void) { return LIBSSH2_CHANNEL_WINDOW_DEFAULT * 4; }

/// A session channel with a receive window of `window` bytes: the most the server may send
/// before the client has read it (libssh2 holds that much for the channel).
static inline LIBSSH2_CHANNEL *mpf_channel_open_session_ex(LIBSSH2_SESSION *session, unsigned int window) {
    return libssh2_channel_open_ex(session, "session", sizeof("session") - 1, window,
                                   LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int mpf_channel_request_pty_term(LIBSSH2_CHANNEL *channel, const char *term, int width, int height) {
    return libssh2_channel_request_pty_ex(channel, term, (unsigned int)strlen(term), NULL, 0, width, height,
                                          LIBSSH2_TERM_WIDTH_PX, LIBSSH2_TERM_HEIGHT_PX);
}

static inline int mpf_sftp_fsetstat(LIBSSH2_SFTP_HANDLE *handle, LIBSSH2_SFTP_ATTRIBUTES *attrs) {
    return libssh2_sftp_fstat_ex(handle, attrs, 1);
}

#endif
