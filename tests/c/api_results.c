/*
 * The process-wide entry points of include/iotjobs.h: jobs_result_str names every result code
 * (distinctly) and answers undefined ones, jobs_version is a static version string, and the
 * last-error message is per thread, empty before any failure, and copied in pieces without
 * writing past the buffer.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

static const uint32_t ALL_RESULTS[] = {
    JOBS_RESULT_OK,
    JOBS_RESULT_NULL_ARGUMENT,
    JOBS_RESULT_INVALID_ARGUMENT,
    JOBS_RESULT_INVALID_UTF8,
    JOBS_RESULT_INVALID_TOPIC,
    JOBS_RESULT_INVALID_THING_NAME,
    JOBS_RESULT_INVALID_JOB_ID,
    JOBS_RESULT_INVALID_STATUS_DETAILS,
    JOBS_RESULT_PAYLOAD_TOO_LARGE,
    JOBS_RESULT_INVALID_TOPIC_COMBINATION,
    JOBS_RESULT_INVALID_STATUS,
    JOBS_RESULT_INVALID_CLIENT_TOKEN,
    JOBS_RESULT_INVALID_PATH,
    JOBS_RESULT_NOT_FOUND,
    JOBS_RESULT_WRONG_TYPE,
    JOBS_RESULT_INVALID_STRUCT_SIZE,
    JOBS_RESULT_INVALID_STATE,
    JOBS_RESULT_TLS_CONFIG,
    JOBS_RESULT_INCOMPLETE_CONFIG,
    JOBS_RESULT_NOT_CONNECTED,
    JOBS_RESULT_QUEUE_FULL,
    JOBS_RESULT_QUEUE_DISABLED,
    JOBS_RESULT_TIMEOUT,
    JOBS_RESULT_CONNECT_REFUSED,
    JOBS_RESULT_SUBSCRIBE_REFUSED,
    JOBS_RESULT_CLOSED,
    JOBS_RESULT_BUSY,
    JOBS_RESULT_DROPPED,
    JOBS_RESULT_IN_PROGRESS,
    JOBS_RESULT_REJECTED,
    JOBS_RESULT_CANCELLED,
    JOBS_RESULT_JOB_ENDED,
    JOBS_RESULT_NETWORK,
    JOBS_RESULT_TLS,
    JOBS_RESULT_WEB_SOCKET,
    JOBS_RESULT_PROTOCOL,
    JOBS_RESULT_IO,
    JOBS_RESULT_PANIC,
    JOBS_RESULT_INTERNAL,
};
#define N_RESULTS (sizeof ALL_RESULTS / sizeof ALL_RESULTS[0])

/* Values between and beyond the defined codes. */
static const uint32_t UNDEFINED_RESULTS[] = {17, 19, 22, 29, 43, 49, 55, 89, 92, 99, 1000,
                                             0xFFFFFFFFu};
#define N_UNDEFINED (sizeof UNDEFINED_RESULTS / sizeof UNDEFINED_RESULTS[0])

static void test_result_strings(void) {
    size_t i, j;
    for (i = 0; i < N_RESULTS; i++) {
        const char *s = jobs_result_str(ALL_RESULTS[i]);
        CHECK(s != NULL);
        if (s == NULL) continue;
        CHECK(s[0] != '\0');
        CHECK(strcmp(s, "unknown result code") != 0);
        for (j = 0; j < i; j++) {
            const char *t = jobs_result_str(ALL_RESULTS[j]);
            if (t != NULL && strcmp(s, t) == 0) {
                fprintf(stderr, "codes %u and %u share the description '%s'\n",
                        (unsigned)ALL_RESULTS[i], (unsigned)ALL_RESULTS[j], s);
                CHECK(strcmp(s, t) != 0);
            }
        }
    }
    for (i = 0; i < N_UNDEFINED; i++) {
        const char *s = jobs_result_str(UNDEFINED_RESULTS[i]);
        CHECK(s != NULL && strcmp(s, "unknown result code") == 0);
    }
    CHECK(JOBS_RESULT_OK == 0);
}

static void test_version(void) {
    char expected[64];
    const char *v = jobs_version();
    size_t n;
    CHECK(JOBS_VERSION_NUMBER ==
          JOBS_VERSION_MAJOR * 1000000 + JOBS_VERSION_MINOR * 1000 + JOBS_VERSION_PATCH);
#if JOBS_VERSION_NUMBER < 1000
#error "JOBS_VERSION_NUMBER must be usable in #if and at least 0.1.0"
#endif
    CHECK(v != NULL);
    if (v == NULL) return;
    snprintf(expected, sizeof expected, "iotjobs/%d.%d.%d", JOBS_VERSION_MAJOR,
             JOBS_VERSION_MINOR, JOBS_VERSION_PATCH);
    n = strlen(expected);
    CHECK(strncmp(v, expected, n) == 0);
    CHECK(v[n] == '\0' || v[n] == ' ');
    CHECK(jobs_version() == v); /* static: the same string every time */
}

static void test_last_error_buffer(void) {
    char buf[8];
    size_t full;
    /* Provoke a failure with a known message, then read it back in pieces. */
    CHECK_FAILS(jobs_config_new(NULL), JOBS_RESULT_NULL_ARGUMENT);
    full = jobs_last_error_message(NULL, 0);
    CHECK(full > 0);
    memset(buf, 'x', sizeof buf);
    CHECK(jobs_last_error_message(buf, 1) == full);
    CHECK(buf[0] == '\0');
    CHECK(buf[1] == 'x'); /* nothing written past len */
    memset(buf, 'x', sizeof buf);
    CHECK(jobs_last_error_message(buf, 4) == full);
    CHECK(full < 3 || strlen(buf) == 3);
    CHECK(buf[4] == 'x');
}

int main(void) {
    /* No call on this thread has failed yet. */
    CHECK(jobs_last_error_message(NULL, 0) == 0);
    test_result_strings();
    test_version();
    test_last_error_buffer();
    return test_finish();
}
