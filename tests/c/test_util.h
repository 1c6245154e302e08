/*
 * Small helpers shared by the C tests in tests/c/. Plain C99 that also compiles as C++11
 * (every test is built both ways), so: no designated initializers, no compound literals,
 * explicit casts from void *.
 *
 * A test that needs a server takes it from argv[1] (host) and argv[2] (port), as
 * `cargo test --test c_tests` passes them, or else from the environment variables
 * IOTJOBS_TEST_HOST and IOTJOBS_TEST_PORT (how ctest runs them). Without either it fails:
 * a missing server is an error, never a skipped test.
 */
#ifndef IOTJOBS_TEST_UTIL_H
#define IOTJOBS_TEST_UTIL_H

#if !defined(_POSIX_C_SOURCE) && !defined(__cplusplus)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotjobs.h"

static int test_failures = 0;
static int test_checks = 0;

/* Prints the calling thread's last-error message (for failure reports). */
static inline void test_print_last_error(void) {
    char buf[512];
    size_t n = jobs_last_error_message(buf, sizeof buf);
    fprintf(stderr, "    last error (%lu bytes): %s\n", (unsigned long)n, n ? buf : "(none)");
}

/* CHECK(cond): records a failure with the source line, and goes on. */
#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* CHECK_RC(call, expected): the call returns exactly the expected jobs_result. */
#define CHECK_RC(call, expected)                                                         \
    do {                                                                                 \
        uint32_t check_rc_got_ = (uint32_t)(call);                                       \
        uint32_t check_rc_want_ = (uint32_t)(expected);                                  \
        test_checks++;                                                                   \
        if (check_rc_got_ != check_rc_want_) {                                           \
            test_failures++;                                                             \
            fprintf(stderr, "%s:%d: %s\n    returned %u (%s), expected %u (%s)\n",       \
                    __FILE__, __LINE__, #call, (unsigned)check_rc_got_,                  \
                    jobs_result_str(check_rc_got_), (unsigned)check_rc_want_,            \
                    jobs_result_str(check_rc_want_));                                    \
            if (check_rc_got_ != 0) test_print_last_error();                             \
        }                                                                                \
    } while (0)

/* CHECK_FAILS(call, expected): as CHECK_RC, for an expected failure, and the last-error
 * message of this thread must then be non-empty (and its reported length must match). */
#define CHECK_FAILS(call, expected)                                          \
    do {                                                                     \
        CHECK_RC(call, expected);                                            \
        test_check_last_error(__FILE__, __LINE__, #call);                    \
    } while (0)

static inline void test_check_last_error(const char *file, int line, const char *what) {
    char buf[1024];
    size_t full = jobs_last_error_message(NULL, 0);
    size_t copied = jobs_last_error_message(buf, sizeof buf);
    test_checks++;
    if (full == 0 || copied != full || buf[0] == '\0' ||
        strlen(buf) != (full < sizeof buf ? full : sizeof buf - 1)) {
        test_failures++;
        fprintf(stderr, "%s:%d: after %s: last-error message missing or inconsistent "
                        "(length %lu, copied %lu, text '%s')\n",
                file, line, what, (unsigned long)full, (unsigned long)copied, buf);
    }
}

/* Sleeps for `ms` milliseconds. */
static inline void test_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The server to use: argv[1]/argv[2], else IOTJOBS_TEST_HOST/IOTJOBS_TEST_PORT. Exits with
 * status 2 and a message when neither names one. */
static inline void test_server(int argc, char **argv, const char **host, uint16_t *port) {
    const char *h = argc > 2 ? argv[1] : getenv("IOTJOBS_TEST_HOST");
    const char *p = argc > 2 ? argv[2] : getenv("IOTJOBS_TEST_PORT");
    long n;
    char *end = NULL;
    if (h == NULL || p == NULL || h[0] == '\0') {
        fprintf(stderr, "this test needs an MQTT server: pass HOST PORT as arguments or set "
                        "IOTJOBS_TEST_HOST and IOTJOBS_TEST_PORT\n");
        exit(2);
    }
    n = strtol(p, &end, 10);
    if (end == p || *end != '\0' || n < 1 || n > 65535) {
        fprintf(stderr, "invalid server port '%s'\n", p);
        exit(2);
    }
    *host = h;
    *port = (uint16_t)n;
}

/* Prints the summary line and returns the process exit status. */
static inline int test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    if (test_checks == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    return test_failures == 0 ? 0 : 1;
}

#endif /* IOTJOBS_TEST_UTIL_H */
