/*
 * Bad input at every public entry point of include/iotjobs.h (config, connection, jobs client,
 * jobs topics and messages, result strings, version, last error), and a plain-TCP round trip.
 *
 * Every failing call must return exactly the code its header documentation names, leave
 * out-parameters untouched, and leave a non-empty last-error message on this thread. Frees
 * accept NULL. The round trip connects to the server named by argv[1]/argv[2] (or
 * IOTJOBS_TEST_HOST/IOTJOBS_TEST_PORT), subscribes, publishes QoS 1 to itself, receives the
 * message in its callbacks, and disconnects and frees.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "test_util.h"

#include <pthread.h>
#include <unistd.h>

/* Not valid UTF-8: a lone continuation byte, and a truncated two-byte sequence. */
static const char BAD_UTF8[] = "topic/\x80/x";
static const char BAD_UTF8_2[] = "\xc3";

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
    JOBS_RESULT_NETWORK,
    JOBS_RESULT_TLS,
    JOBS_RESULT_WEB_SOCKET,
    JOBS_RESULT_PROTOCOL,
    JOBS_RESULT_PANIC,
    JOBS_RESULT_INTERNAL,
};
#define N_RESULTS (sizeof ALL_RESULTS / sizeof ALL_RESULTS[0])

/* Values between and beyond the defined codes. */
static const uint32_t UNDEFINED_RESULTS[] = {12, 19, 22, 29, 40, 49, 54, 89, 92, 99, 1000,
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

static void test_config_args(void) {
    jobs_config *cfg = NULL;
    jobs_config *untouched = (jobs_config *)&test_checks;
    char big[300];
    static uint8_t payload[70000];
    const double not_a_number = strtod("nan", NULL);
    const double infinity = strtod("inf", NULL);

    /* jobs_config_new / jobs_config_free */
    CHECK_FAILS(jobs_config_new(NULL), JOBS_RESULT_NULL_ARGUMENT);
    jobs_config_free(NULL);
    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    CHECK(cfg != NULL);
    if (cfg == NULL) return;
    CHECK(untouched == (jobs_config *)&test_checks);

    /* jobs_config_set_endpoint: NULL, UTF-8, host 1-253 bytes, port 1-65535 */
    CHECK_FAILS(jobs_config_set_endpoint(NULL, "localhost", 1883), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, NULL, 1883), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, BAD_UTF8_2, 1883), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, "", 1883), JOBS_RESULT_INVALID_ARGUMENT);
    memset(big, 'h', 254);
    big[254] = '\0';
    CHECK_FAILS(jobs_config_set_endpoint(cfg, big, 1883), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_endpoint(cfg, "localhost", 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_endpoint(cfg, "localhost", 65535), JOBS_RESULT_OK);

    /* jobs_config_set_transport: enum taken as an integer */
    CHECK_FAILS(jobs_config_set_transport(NULL, JOBS_TRANSPORT_TCP), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_transport(cfg, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET_TLS), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);

    /* jobs_config_set_client_id: at most 128 bytes; NULL or empty means generated */
    CHECK_FAILS(jobs_config_set_client_id(NULL, "id"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_client_id(cfg, BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    memset(big, 'c', 129);
    big[129] = '\0';
    CHECK_FAILS(jobs_config_set_client_id(cfg, big), JOBS_RESULT_INVALID_ARGUMENT);
    big[128] = '\0';
    CHECK_RC(jobs_config_set_client_id(cfg, big), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, ""), JOBS_RESULT_OK);

    /* jobs_config_set_protocol: 3 or 4 */
    CHECK_FAILS(jobs_config_set_protocol(NULL, JOBS_PROTOCOL_MQTT311), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_protocol(cfg, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT31), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT311), JOBS_RESULT_OK);

    /* jobs_config_set_clean_session, jobs_config_set_keep_alive (clamped, never refused) */
    CHECK_FAILS(jobs_config_set_clean_session(NULL, true), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_clean_session(cfg, true), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_keep_alive(NULL, 60), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 0), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 0xFFFFFFFFu), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_keep_alive(cfg, 600), JOBS_RESULT_OK);

    /* jobs_config_set_username_password */
    CHECK_FAILS(jobs_config_set_username_password(NULL, "u", "p"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_username_password(cfg, BAD_UTF8, "p"), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_username_password(cfg, "u", BAD_UTF8_2), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_username_password(cfg, NULL, "p"), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_username_password(cfg, "u", NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_username_password(cfg, "u", "p"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_username_password(cfg, NULL, NULL), JOBS_RESULT_OK);

    /* jobs_config_set_last_will / jobs_config_clear_last_will */
    CHECK_FAILS(jobs_config_set_last_will(NULL, "will", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, NULL, (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, BAD_UTF8, (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will/#", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will/+/x", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "", (const uint8_t *)"x", 1, 0, false),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", NULL, 3, 0, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", payload, 65536, 0, false),
                JOBS_RESULT_PAYLOAD_TOO_LARGE);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", payload, (size_t)-1, 0, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", (const uint8_t *)"x", 1, 2, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_last_will(cfg, "will", (const uint8_t *)"x", 1, 0xFFFFFFFFu, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_last_will(cfg, "will", NULL, 0, 1, true), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_last_will(cfg, "will/topic", (const uint8_t *)"bye", 3, 1, false),
             JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_clear_last_will(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_clear_last_will(cfg), JOBS_RESULT_OK);

    /* jobs_config_set_timeouts: both 1-3600000 ms */
    CHECK_FAILS(jobs_config_set_timeouts(NULL, 1000, 1000), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 0, 1000), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 1000, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 3600001, 1000), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_timeouts(cfg, 1000, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_timeouts(cfg, 3600000, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 30000, 5000), JOBS_RESULT_OK);

    /* jobs_config_set_max_packet_size: 128-268435455 */
    CHECK_FAILS(jobs_config_set_max_packet_size(NULL, 4096), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 127), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, 268435456), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_max_packet_size(cfg, (size_t)-1), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 128), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 268435455), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_max_packet_size(cfg, 131072), JOBS_RESULT_OK);

    /* jobs_config_set_alpn: at most 255 bytes; empty offers none */
    CHECK_FAILS(jobs_config_set_alpn(NULL, "x-amzn-mqtt-ca"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_alpn(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_alpn(cfg, BAD_UTF8_2), JOBS_RESULT_INVALID_UTF8);
    memset(big, 'a', 256);
    big[256] = '\0';
    CHECK_FAILS(jobs_config_set_alpn(cfg, big), JOBS_RESULT_INVALID_ARGUMENT);
    big[255] = '\0';
    CHECK_RC(jobs_config_set_alpn(cfg, big), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_alpn(cfg, ""), JOBS_RESULT_OK);

    /* jobs_config_set_backoff: 0 < base <= max, base < stable */
    CHECK_FAILS(jobs_config_set_backoff(NULL, 1000, 32000, 20000, false),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 0, 32000, 20000, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 4000, 2000, 20000, false),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_backoff(cfg, 1000, 32000, 1000, true),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_backoff(cfg, 1000, 1000, 1001, true), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_backoff(cfg, 1000, 32000, 20000, false), JOBS_RESULT_OK);

    /* jobs_config_set_offline_queue: size -1, 0 or N > 0; policy 0 or 1 */
    CHECK_FAILS(jobs_config_set_offline_queue(NULL, -1, JOBS_DROP_POLICY_DROP_NEWEST),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, -2, JOBS_DROP_POLICY_DROP_NEWEST),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, INT64_MIN, JOBS_DROP_POLICY_DROP_OLDEST),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, 10, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_offline_queue(cfg, 10, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_offline_queue(cfg, 0, JOBS_DROP_POLICY_DROP_OLDEST), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_offline_queue(cfg, INT64_MAX, JOBS_DROP_POLICY_DROP_OLDEST),
             JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_offline_queue(cfg, -1, JOBS_DROP_POLICY_DROP_NEWEST), JOBS_RESULT_OK);

    /* jobs_config_set_draining_rate: finite, >= 0 */
    CHECK_FAILS(jobs_config_set_draining_rate(NULL, 2.0), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, -1.0), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, not_a_number), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, infinity), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_draining_rate(cfg, -infinity), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_draining_rate(cfg, 0.0), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_draining_rate(cfg, 2.0), JOBS_RESULT_OK);

    /* callbacks and user data: only the config may not be NULL */
    CHECK_FAILS(jobs_config_set_user_data(NULL, cfg), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_user_data(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_online_offline(NULL, NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_online_offline(cfg, NULL, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_message(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_message(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_on_event(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_on_event(cfg, NULL), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_config_set_log(NULL, NULL, JOBS_LOG_LEVEL_INFO), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_log(cfg, NULL, 5), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_log(cfg, NULL, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_log(cfg, NULL, JOBS_LOG_LEVEL_DEBUG), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_log(cfg, NULL, JOBS_LOG_LEVEL_OFF), JOBS_RESULT_OK);

    jobs_config_free(cfg);
}

/* jobs_connection_new refusals: *out stays untouched on every error. */
static void test_connection_new_args(void) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = (jobs_connection *)&test_failures;
    jobs_connection *const sentinel = conn;

    CHECK_FAILS(jobs_connection_new(NULL, &conn), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(conn == sentinel);
    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_FAILS(jobs_connection_new(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);

    /* No endpoint. */
    CHECK_FAILS(jobs_connection_new(cfg, &conn), JOBS_RESULT_INCOMPLETE_CONFIG);
    CHECK(conn == sentinel);

    /* TLS (the default) without a CA. */
    CHECK_RC(jobs_config_set_endpoint(cfg, "127.0.0.1", 8883), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_connection_new(cfg, &conn), JOBS_RESULT_INCOMPLETE_CONFIG);
    CHECK(conn == sentinel);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET_TLS), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_connection_new(cfg, &conn), JOBS_RESULT_INCOMPLETE_CONFIG);
    CHECK(conn == sentinel);

    /* MQTT 3.1 allows 23-byte client ids only (checked at creation). */
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT31), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, "abcdefghijklmnopqrstuvwx"), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_connection_new(cfg, &conn), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(conn == sentinel);

    /* A persistent session needs a client id. */
    CHECK_RC(jobs_config_set_protocol(cfg, JOBS_PROTOCOL_MQTT311), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_clean_session(cfg, false), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_connection_new(cfg, &conn), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(conn == sentinel);

    /* And the same config, fixed, builds a connection (freed at once, never connected). */
    CHECK_RC(jobs_config_set_clean_session(cfg, true), JOBS_RESULT_OK);
    conn = NULL;
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    CHECK(conn != NULL);
    jobs_connection_free(conn);
    jobs_connection_free(NULL);
    jobs_config_free(cfg);
}

/* Every connection entry point with NULL, bad UTF-8, bad topics, bad QoS, absurd sizes, on a
 * connection that never connects (all of these must be refused before anything is queued). */
static void test_connection_args(void) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    static uint8_t payload[200000];
    char buf[256];
    char deep[64];
    char long_topic[300];
    uint64_t value = 12345;
    uint32_t delivery = 77;
    uint16_t packet_id = 777;
    uint8_t granted = 99;
    size_t n;
    uint32_t c;

    memset(long_topic, 't', 257);
    long_topic[257] = '\0';
    strcpy(deep, "a/b/c/d/e/f/g/h/i"); /* 8 slashes: AWS allows 7 */

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_RC(jobs_config_set_endpoint(cfg, "127.0.0.1", 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, "iotjobs-args"), JOBS_RESULT_OK);
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg); /* the connection holds a copy */
    if (conn == NULL) return;

    /* state, counters, client id */
    CHECK(jobs_connection_get_state(NULL) == JOBS_CONNECTION_STATE_CLOSED);
    CHECK(jobs_connection_get_state(conn) == JOBS_CONNECTION_STATE_DISCONNECTED);
    CHECK_FAILS(jobs_connection_counter(NULL, JOBS_COUNTER_QUEUED, &value),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, NULL),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_counter(conn, 6, &value), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_counter(conn, 0xFFFFFFFFu, &value), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(value == 12345);
    for (c = JOBS_COUNTER_RECONNECTS; c <= JOBS_COUNTER_RECEIVED; c++) {
        value = 12345;
        CHECK_RC(jobs_connection_counter(conn, c, &value), JOBS_RESULT_OK);
        CHECK(value == 0);
    }
    CHECK(jobs_connection_client_id(NULL, buf, sizeof buf) == 0);
    CHECK(jobs_connection_client_id(conn, NULL, 0) == strlen("iotjobs-args"));
    CHECK(jobs_connection_client_id(conn, NULL, 100) == strlen("iotjobs-args"));
    memset(buf, 'x', sizeof buf);
    n = jobs_connection_client_id(conn, buf, 5);
    CHECK(n == strlen("iotjobs-args"));
    CHECK(strcmp(buf, "iotj") == 0);
    CHECK(buf[5] == 'x');
    n = jobs_connection_client_id(conn, buf, sizeof buf);
    CHECK(n == strlen("iotjobs-args") && strcmp(buf, "iotjobs-args") == 0);

    /* connect / connect_async / disconnect on NULL */
    CHECK_FAILS(jobs_connection_connect(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_connect_async(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_disconnect(NULL), JOBS_RESULT_NULL_ARGUMENT);

    /* jobs_connection_publish */
    CHECK_FAILS(jobs_connection_publish(NULL, "t", payload, 1, 1, false, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, NULL, payload, 1, 1, false, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, BAD_UTF8, payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_publish(conn, "", payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish(conn, "a/+/b", payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish(conn, "a/#", payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish(conn, long_topic, payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish(conn, deep, payload, 1, 1, false, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish(conn, "t", payload, 1, 2, false, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, "t", payload, 1, 0xFFFFFFFFu, false, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, "t", NULL, 4, 1, false, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, "t", payload, (size_t)-1, 1, false, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish(conn, "t", payload, sizeof payload, 1, false, &delivery),
                JOBS_RESULT_PAYLOAD_TOO_LARGE);
    CHECK(delivery == 77);

    /* jobs_connection_publish_async */
    CHECK_FAILS(jobs_connection_publish_async(NULL, "t", payload, 1, 1, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish_async(conn, NULL, payload, 1, 1, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish_async(conn, BAD_UTF8_2, payload, 1, 1, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_publish_async(conn, "a/+", payload, 1, 1, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_publish_async(conn, "t", payload, 1, 2, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish_async(conn, "t", NULL, 1, 1, false, NULL, NULL,
                                              &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish_async(conn, "t", payload, (size_t)-1, 1, false, NULL,
                                              NULL, &packet_id, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_publish_async(conn, "t", payload, sizeof payload, 0, false, NULL,
                                              NULL, &packet_id, &delivery),
                JOBS_RESULT_PAYLOAD_TOO_LARGE);
    CHECK(packet_id == 777 && delivery == 77);

    /* jobs_connection_subscribe */
    CHECK_FAILS(jobs_connection_subscribe(NULL, "t/#", 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_subscribe(conn, NULL, 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_subscribe(conn, BAD_UTF8, 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_subscribe(conn, "", 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_subscribe(conn, "a/b+", 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_subscribe(conn, "a/#/b", 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_subscribe(conn, long_topic, 1, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_subscribe(conn, "t/#", 2, NULL, NULL, &granted, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_connection_subscribe(conn, "t/#", 0xFFFFFFFFu, NULL, NULL, &granted,
                                          &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(granted == 99 && delivery == 77);

    /* jobs_connection_subscribe_async */
    CHECK_FAILS(jobs_connection_subscribe_async(NULL, "t/#", 1, NULL, NULL, NULL, NULL,
                                                &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_subscribe_async(conn, NULL, 1, NULL, NULL, NULL, NULL,
                                                &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_subscribe_async(conn, BAD_UTF8_2, 1, NULL, NULL, NULL, NULL,
                                                &packet_id, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_subscribe_async(conn, "#/a", 1, NULL, NULL, NULL, NULL,
                                                &packet_id, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_subscribe_async(conn, "t/#", 3, NULL, NULL, NULL, NULL,
                                                &packet_id, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(packet_id == 777 && delivery == 77);

    /* jobs_connection_unsubscribe / _async */
    CHECK_FAILS(jobs_connection_unsubscribe(NULL, "t/#", &delivery), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, NULL, &delivery), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, BAD_UTF8, &delivery), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, "", &delivery), JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, "a/#/b", &delivery), JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_unsubscribe_async(NULL, "t/#", NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe_async(conn, NULL, NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe_async(conn, BAD_UTF8_2, NULL, NULL, &packet_id,
                                                  &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_unsubscribe_async(conn, "a+", NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK(packet_id == 777 && delivery == 77);

    /* Nothing above reached the offline queue. */
    value = 12345;
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &value), JOBS_RESULT_OK);
    CHECK(value == 0);

    jobs_connection_free(conn);
}

/* ---- the jobs client API: argument checks on clients that never connect ---- */

static void ignore_message(void *user_data, const struct jobs_message *message) {
    (void)user_data;
    (void)message;
}

static void test_jobs_config_and_client_new_args(void) {
    jobs_config *cfg = NULL;
    jobs_client *client = (jobs_client *)&test_checks;
    jobs_client *const sentinel = client;
    char name[200];

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;

    /* jobs_config_set_thing_name: [a-zA-Z0-9:_-]{1,128} */
    CHECK_FAILS(jobs_config_set_thing_name(NULL, "thing"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, BAD_UTF8_2), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, ""), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, "no spaces"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, "a/b"), JOBS_RESULT_INVALID_THING_NAME);
    memset(name, 't', 129);
    name[129] = '\0';
    CHECK_FAILS(jobs_config_set_thing_name(cfg, name), JOBS_RESULT_INVALID_THING_NAME);
    name[128] = '\0';
    CHECK_RC(jobs_config_set_thing_name(cfg, name), JOBS_RESULT_OK);

    /* jobs_config_set_jobs_qos: 0 or 1 */
    CHECK_FAILS(jobs_config_set_jobs_qos(NULL, 1), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_jobs_qos(cfg, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_config_set_jobs_qos(cfg, 0xFFFFFFFFu), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_jobs_qos(cfg, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_jobs_qos(cfg, 0), JOBS_RESULT_OK);
    jobs_config_free(cfg);

    /* jobs_client_new: *out untouched on every error */
    cfg = NULL;
    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_FAILS(jobs_client_new(NULL, &client), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_new(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_endpoint(cfg, "127.0.0.1", 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_client_new(cfg, &client), JOBS_RESULT_INCOMPLETE_CONFIG); /* no thing */
    CHECK(client == sentinel);
    CHECK_RC(jobs_config_set_thing_name(cfg, "thing-1"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_client_new(cfg, &client), JOBS_RESULT_INCOMPLETE_CONFIG); /* no CA */
    CHECK(client == sentinel);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    client = NULL;
    CHECK_RC(jobs_client_new(cfg, &client), JOBS_RESULT_OK);
    CHECK(client != NULL);
    CHECK(jobs_client_connection(client) != NULL);
    CHECK(jobs_connection_get_state(jobs_client_connection(client)) ==
          JOBS_CONNECTION_STATE_DISCONNECTED);
    jobs_client_free(client);
    jobs_client_free(NULL);
    jobs_config_free(cfg);
}

static void test_jobs_client_args(void) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    jobs_client *client = (jobs_client *)&test_checks;
    jobs_client *const sentinel = client;
    char token[80];
    char details[512];
    uint32_t delivery = 77;
    uint16_t packet_id = 777;
    uint64_t queued = 0;
    int i;

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_RC(jobs_config_set_endpoint(cfg, "127.0.0.1", 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return;

    /* jobs_client_new_with_connection */
    memset(token, 'k', 65);
    token[65] = '\0';
    CHECK_FAILS(jobs_client_new_with_connection(NULL, "thing", NULL, 0, &client),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_new_with_connection(conn, NULL, NULL, 0, &client),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "thing", NULL, 0, NULL),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_new_with_connection(conn, BAD_UTF8, NULL, 0, &client),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "thing", BAD_UTF8_2, 0, &client),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "bad thing", NULL, 0, &client),
                JOBS_RESULT_INVALID_THING_NAME);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "thing", token, 0, &client),
                JOBS_RESULT_INVALID_CLIENT_TOKEN);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "thing", NULL, 2, &client),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(client == sentinel);
    token[64] = '\0';
    client = NULL;
    CHECK_RC(jobs_client_new_with_connection(conn, "thing", token, 1, &client), JOBS_RESULT_OK);
    CHECK(client != NULL);
    if (client == NULL) {
        jobs_connection_free(conn);
        return;
    }
    CHECK(jobs_client_connection(client) != NULL);
    CHECK(jobs_client_connection(NULL) == NULL);
    CHECK_FAILS(jobs_client_connect(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_disconnect(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_client_set_fallback_callback(NULL, ignore_message, NULL),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_set_fallback_callback(client, ignore_message, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_set_fallback_callback(client, NULL, NULL), JOBS_RESULT_OK);

    /* jobs_create_subscription / _async / jobs_unsubscribe */
    CHECK_FAILS(jobs_create_subscription(NULL, JOBS_TOPIC_TYPE_GET_PENDING,
                                         JOBS_REPLY_TYPE_ACCEPTED, NULL, ignore_message, NULL,
                                         &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription(client, JOBS_TOPIC_TYPE_GET_PENDING,
                                         JOBS_REPLY_TYPE_ACCEPTED, NULL, NULL, NULL, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription(client, 8, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                         ignore_message, NULL, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription(client, 0xFFFFFFFFu, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                         ignore_message, NULL, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription(client, JOBS_TOPIC_TYPE_GET_PENDING, 5, NULL,
                                         ignore_message, NULL, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription(client, JOBS_TOPIC_TYPE_DESCRIBE,
                                         JOBS_REPLY_TYPE_ACCEPTED, BAD_UTF8_2, ignore_message,
                                         NULL, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_create_subscription(client, JOBS_TOPIC_TYPE_DESCRIBE,
                                         JOBS_REPLY_TYPE_ACCEPTED, "bad job id", ignore_message,
                                         NULL, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_create_subscription(client, JOBS_TOPIC_TYPE_NOTIFY,
                                         JOBS_REPLY_TYPE_ACCEPTED, NULL, ignore_message, NULL,
                                         &delivery),
                JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_FAILS(jobs_create_subscription_async(NULL, JOBS_TOPIC_TYPE_GET_PENDING,
                                               JOBS_REPLY_TYPE_ACCEPTED, NULL, ignore_message,
                                               NULL, NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription_async(client, JOBS_TOPIC_TYPE_GET_PENDING,
                                               JOBS_REPLY_TYPE_ACCEPTED, NULL, NULL, NULL, NULL,
                                               NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription_async(client, 99, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                               ignore_message, NULL, NULL, NULL, &packet_id,
                                               &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_create_subscription_async(client, JOBS_TOPIC_TYPE_UPDATE,
                                               JOBS_REPLY_TYPE_ACCEPTED, "a b", ignore_message,
                                               NULL, NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK(packet_id == 777 && delivery == 77);
    CHECK_FAILS(jobs_unsubscribe(NULL, JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_ACCEPTED,
                                 NULL, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_unsubscribe(client, 8, JOBS_REPLY_TYPE_ACCEPTED, NULL, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_unsubscribe(client, JOBS_TOPIC_TYPE_GET_PENDING, 0xFFFFFFFFu, NULL,
                                 &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_unsubscribe(client, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED,
                                 BAD_UTF8, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_unsubscribe(client, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED,
                                 "bad job id", &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK(delivery == 77);

    /* jobs_send_query */
    CHECK_FAILS(jobs_send_query(NULL, JOBS_TOPIC_TYPE_GET_PENDING, NULL, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_query(client, 8, NULL, &delivery), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_DESCRIBE, BAD_UTF8_2, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_DESCRIBE, "bad job id", &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_UPDATE, "job-1", &delivery),
                JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_NOTIFY, NULL, &delivery),
                JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_WILDCARD, NULL, &delivery),
                JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK(delivery == 77);

    /* jobs_send_start_next: status details and step timeout */
    CHECK_FAILS(jobs_send_start_next(NULL, NULL, 0, &delivery), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_start_next(client, BAD_UTF8, 0, &delivery), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_send_start_next(client, "not json", 0, &delivery),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_send_start_next(client, "[\"a\"]", 0, &delivery),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_send_start_next(client, "{\"a\":1}", 0, &delivery),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_send_start_next(client, NULL, 10081, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_send_start_next(client, NULL, -1, &delivery), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_send_start_next(client, NULL, INT64_MIN, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(delivery == 77);

    /* jobs_send_update */
    strcpy(details, "{");
    for (i = 0; i < 11; i++) {
        char pair[32];
        snprintf(pair, sizeof pair, "%s\"k%d\":\"v\"", i ? "," : "", i);
        strcat(details, pair);
    }
    strcat(details, "}");
    CHECK_FAILS(jobs_send_update(NULL, "job-1", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_update(client, NULL, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_update(client, BAD_UTF8, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false,
                                 false, 0, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_send_update(client, "bad job id", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false,
                                 false, 0, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_send_update(client, "$next", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false,
                                 false, 0, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_send_update(client, "+", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_NOT_SET, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_INVALID_STATUS);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_QUEUED, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_INVALID_STATUS);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_CANCELED, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_INVALID_STATUS);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_UNKNOWN, NULL, 0, 0, false, false,
                                 0, &delivery),
                JOBS_RESULT_INVALID_STATUS);
    {
        /* A value that is no jobs_status at all: the header documents both INVALID_STATUS
         * ("cannot be sent") and INVALID_ARGUMENT for this call; either is a refusal. */
        uint32_t rc = (uint32_t)jobs_send_update(client, "job-1", 17, NULL, 0, 0, false, false, 0,
                                                 &delivery);
        CHECK(rc == JOBS_RESULT_INVALID_STATUS || rc == JOBS_RESULT_INVALID_ARGUMENT);
        test_check_last_error(__FILE__, __LINE__, "jobs_send_update(status 17)");
    }
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_SUCCEEDED, "{\"a\":[]}", 0, 0,
                                 false, false, 0, &delivery),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_SUCCEEDED, details, 0, 0, false,
                                 false, 0, &delivery),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_SUCCEEDED, NULL, 0, 0, false, false,
                                 10081, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_send_update(client, "job-1", JOBS_STATUS_SUCCEEDED, NULL, 0, 0, false, false,
                                 -2, &delivery),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(delivery == 77);

    /* jobs_send_describe */
    CHECK_FAILS(jobs_send_describe(NULL, "job-1", 0, true, &delivery), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_describe(client, NULL, 0, true, &delivery), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_describe(client, BAD_UTF8_2, 0, true, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_send_describe(client, "bad job id", 0, true, &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_send_describe(client, "+", 0, true, &delivery), JOBS_RESULT_INVALID_JOB_ID);
    CHECK(delivery == 77);

    /* Nothing above was queued; valid requests while offline are. */
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &queued), JOBS_RESULT_OK);
    CHECK(queued == 0);
    CHECK_RC(jobs_send_query(client, JOBS_TOPIC_TYPE_GET_PENDING, NULL, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    delivery = 77;
    CHECK_RC(jobs_send_describe(client, "$next", 0, true, &delivery), JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    delivery = 77;
    CHECK_RC(jobs_send_update(client, "job-1", JOBS_STATUS_IN_PROGRESS, "{\"step\":\"1\"}", 3, 0,
                              true, false, -1, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    delivery = 77;
    CHECK_RC(jobs_send_start_next(client, "{}", 10080, &delivery), JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &queued), JOBS_RESULT_OK);
    CHECK(queued == 4);

    jobs_client_free(client); /* on a shared connection: the connection stays */
    CHECK(jobs_connection_get_state(conn) == JOBS_CONNECTION_STATE_DISCONNECTED);
    jobs_connection_free(conn);
}

static void test_jobs_topics_and_messages(void) {
    char buf[256];
    char thing[129];
    char job[65];
    size_t needed = 0;
    size_t len = 99;
    uint32_t topic_type = 99;
    uint32_t reply_type = 99;
    static const char get_accepted[] = "$aws/things/thing-1/jobs/get/accepted";
    static const char update_rejected[] = "$aws/things/thing-1/jobs/job-7/update/rejected";

    /* jobs_topic_build */
    CHECK_FAILS(jobs_topic_build(NULL, JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_ACCEPTED,
                                 NULL, buf, sizeof buf, &needed),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_topic_build(BAD_UTF8_2, JOBS_TOPIC_TYPE_GET_PENDING,
                                 JOBS_REPLY_TYPE_ACCEPTED, NULL, buf, sizeof buf, &needed),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_topic_build("bad thing", JOBS_TOPIC_TYPE_GET_PENDING,
                                 JOBS_REPLY_TYPE_ACCEPTED, NULL, buf, sizeof buf, &needed),
                JOBS_RESULT_INVALID_THING_NAME);
    CHECK_FAILS(jobs_topic_build("thing-1", 8, JOBS_REPLY_TYPE_ACCEPTED, NULL, buf, sizeof buf,
                                 &needed),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_GET_PENDING, 5, NULL, buf,
                                 sizeof buf, &needed),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED,
                                 BAD_UTF8, buf, sizeof buf, &needed),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED,
                                 "bad job id", buf, sizeof buf, &needed),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_NOTIFY, JOBS_REPLY_TYPE_ACCEPTED,
                                 NULL, buf, sizeof buf, &needed),
                JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    /* Too small a buffer: refused, and *needed_out tells the size. */
    needed = 0;
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_ACCEPTED,
                                 NULL, NULL, 0, &needed),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(needed == strlen(get_accepted));
    CHECK_FAILS(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_ACCEPTED,
                                 NULL, buf, strlen(get_accepted), &needed),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_ACCEPTED,
                              NULL, buf, strlen(get_accepted) + 1, NULL),
             JOBS_RESULT_OK);
    CHECK(strcmp(buf, get_accepted) == 0);
    CHECK_RC(jobs_topic_build("thing-1", JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED,
                              "job-7", buf, sizeof buf, &needed),
             JOBS_RESULT_OK);
    CHECK(strcmp(buf, update_rejected) == 0 && needed == strlen(update_rejected));

    /* jobs_topic_parse */
    CHECK_FAILS(jobs_topic_parse(NULL, &topic_type, &reply_type, thing, sizeof thing, job,
                                 sizeof job),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_topic_parse(BAD_UTF8, &topic_type, &reply_type, thing, sizeof thing, job,
                                 sizeof job),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_topic_parse("a/b/c", &topic_type, &reply_type, thing, sizeof thing, job,
                                 sizeof job),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_topic_parse("$aws/things/+/jobs/get/accepted", &topic_type, &reply_type,
                                 thing, sizeof thing, job, sizeof job),
                JOBS_RESULT_INVALID_TOPIC);
    CHECK(topic_type == 99 && reply_type == 99);
    CHECK_RC(jobs_topic_parse(update_rejected, &topic_type, &reply_type, thing, sizeof thing, job,
                              sizeof job),
             JOBS_RESULT_OK);
    CHECK(topic_type == JOBS_TOPIC_TYPE_UPDATE && reply_type == JOBS_REPLY_TYPE_REJECTED);
    CHECK(strcmp(thing, "thing-1") == 0 && strcmp(job, "job-7") == 0);
    CHECK_RC(jobs_topic_parse(get_accepted, NULL, NULL, NULL, 0, NULL, 0), JOBS_RESULT_OK);
    CHECK_RC(jobs_topic_parse(get_accepted, &topic_type, &reply_type, thing, 3, job, sizeof job),
             JOBS_RESULT_OK);
    CHECK(topic_type == JOBS_TOPIC_TYPE_GET_PENDING && reply_type == JOBS_REPLY_TYPE_ACCEPTED);
    CHECK(strcmp(thing, "th") == 0 && job[0] == '\0');

    /* jobs_message_* accessors accept NULL and return their documented neutral values. */
    CHECK(jobs_message_topic(NULL, &len) == NULL);
    CHECK(jobs_message_topic(NULL, NULL) == NULL);
    CHECK(jobs_message_payload(NULL, &len) == NULL);
    CHECK(jobs_message_thing_name(NULL) == NULL);
    CHECK(jobs_message_topic_type(NULL) == JOBS_TOPIC_TYPE_UNRECOGNIZED);
    CHECK(jobs_message_reply_type(NULL) == JOBS_REPLY_TYPE_UNRECOGNIZED);
    CHECK(jobs_message_job_id(NULL) == NULL);
    CHECK(!jobs_message_is_parsed(NULL));
    CHECK(!jobs_message_has_execution(NULL));
    CHECK(jobs_message_execution_job_id(NULL) == NULL);
    CHECK(jobs_message_status(NULL) == JOBS_STATUS_NOT_SET);
    CHECK(jobs_message_version_number(NULL) == -1);
    CHECK(jobs_message_execution_number(NULL) == -1);
    CHECK(jobs_message_job_document(NULL, &len) == NULL);
    CHECK(jobs_message_status_details(NULL) == NULL);
    CHECK(jobs_message_client_token(NULL) == NULL);
    CHECK(jobs_message_rejection_code(NULL) == JOBS_REJECTION_CODE_NONE);
    CHECK(jobs_message_rejection_text(NULL) == NULL);
    CHECK(jobs_message_rejection_message(NULL) == NULL);
}

/* ---- the round trip over plain TCP ---- */

struct echo_state {
    pthread_mutex_t lock;
    int online;
    int offline;
    int messages;      /* per-subscription callback */
    int conn_messages; /* connection-level on_message */
    int bad_user_data;
    char topic[128];
    size_t topic_len;
    unsigned char payload[64];
    size_t payload_len;
    int acks;
    uint16_t ack_packet_id[4];
    uint32_t ack_result[4];
    uint8_t ack_granted[4];
};

static struct echo_state state;

static void on_online(void *user_data) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->online++;
    pthread_mutex_unlock(&st->lock);
}

static void on_offline(void *user_data) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->offline++;
    pthread_mutex_unlock(&st->lock);
}

static void on_conn_message(void *user_data, const char *topic, size_t topic_len,
                            const uint8_t *payload, size_t payload_len) {
    struct echo_state *st = (struct echo_state *)user_data;
    (void)topic;
    (void)topic_len;
    (void)payload;
    (void)payload_len;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->conn_messages++;
    pthread_mutex_unlock(&st->lock);
}

static void on_sub_message(void *user_data, const char *topic, size_t topic_len,
                           const uint8_t *payload, size_t payload_len) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    st->messages++;
    st->topic_len = topic_len;
    if (topic_len < sizeof st->topic && strlen(topic) == topic_len) {
        memcpy(st->topic, topic, topic_len + 1);
    } else {
        st->topic[0] = '\0';
    }
    st->payload_len = payload_len;
    if (payload_len <= sizeof st->payload) memcpy(st->payload, payload, payload_len);
    pthread_mutex_unlock(&st->lock);
}

static void on_ack(void *user_data, uint16_t packet_id, jobs_result result, uint8_t granted_qos) {
    struct echo_state *st = (struct echo_state *)user_data;
    if (st != &state) {
        state.bad_user_data++;
        return;
    }
    pthread_mutex_lock(&st->lock);
    if (st->acks < 4) {
        st->ack_packet_id[st->acks] = packet_id;
        st->ack_result[st->acks] = (uint32_t)result;
        st->ack_granted[st->acks] = granted_qos;
    }
    st->acks++;
    pthread_mutex_unlock(&st->lock);
}

/* Waits (at most timeout_ms) until *counter reaches target; returns whether it did. */
static int wait_for(int *counter, int target, long timeout_ms) {
    long waited = 0;
    for (;;) {
        int v;
        pthread_mutex_lock(&state.lock);
        v = *counter;
        pthread_mutex_unlock(&state.lock);
        if (v >= target) return 1;
        if (waited >= timeout_ms) return 0;
        test_sleep_ms(10);
        waited += 10;
    }
}

static int wait_for_state(jobs_connection *conn, uint32_t want, long timeout_ms) {
    long waited = 0;
    while (jobs_connection_get_state(conn) != want) {
        if (waited >= timeout_ms) return 0;
        test_sleep_ms(10);
        waited += 10;
    }
    return 1;
}

static void test_round_trip(const char *host, uint16_t port) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    char client_id[64];
    char filter[96];
    char topic[96];
    char async_filter[96];
    char buf[128];
    static const char message[] = "hello from C";
    uint32_t delivery = 77;
    uint16_t packet_id = 0;
    uint8_t granted = 99;
    uint64_t value = 0;
    /* Unique per process, so parallel runs (ctest -j, C and C++ builds) never share a client id. */
    unsigned long tag = ((unsigned long)getpid() << 16) ^ (unsigned long)time(NULL);

    snprintf(client_id, sizeof client_id, "iotjobs-c-args-%lx", tag);
    snprintf(filter, sizeof filter, "iotjobs-test/%lx/+", tag);
    snprintf(topic, sizeof topic, "iotjobs-test/%lx/echo", tag);
    snprintf(async_filter, sizeof async_filter, "iotjobs-test/%lx/async/#", tag);

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;
    CHECK_RC(jobs_config_set_endpoint(cfg, host, port), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, client_id), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 5000, 5000), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_user_data(cfg, &state), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_on_online_offline(cfg, on_online, on_offline), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_on_message(cfg, on_conn_message), JOBS_RESULT_OK);
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return;

    CHECK(jobs_connection_get_state(conn) == JOBS_CONNECTION_STATE_DISCONNECTED);
    CHECK(jobs_connection_client_id(conn, buf, sizeof buf) == strlen(client_id));
    CHECK(strcmp(buf, client_id) == 0);

    CHECK_RC(jobs_connection_connect(conn), JOBS_RESULT_OK);
    CHECK(wait_for(&state.online, 1, 5000));
    CHECK(wait_for_state(conn, JOBS_CONNECTION_STATE_ONLINE, 5000));
    CHECK_RC(jobs_connection_connect(conn), JOBS_RESULT_OK); /* already connected */

    /* Blocking subscribe (SUBACK), blocking QoS 1 publish (PUBACK), message back. */
    CHECK_RC(jobs_connection_subscribe(conn, filter, 1, on_sub_message, &state, &granted,
                                       &delivery),
             JOBS_RESULT_OK);
    CHECK(granted == 1);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    delivery = 77;
    CHECK_RC(jobs_connection_publish(conn, topic, (const uint8_t *)message, strlen(message), 1,
                                     false, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.messages, 1, 5000));
    CHECK(wait_for(&state.conn_messages, 1, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.topic_len == strlen(topic) && strcmp(state.topic, topic) == 0);
    CHECK(state.payload_len == strlen(message) &&
          memcmp(state.payload, message, strlen(message)) == 0);
    pthread_mutex_unlock(&state.lock);

    /* Asynchronous QoS 1 publish: the ack names the packet id returned here. */
    CHECK_RC(jobs_connection_publish_async(conn, topic, (const uint8_t *)"2", 1, 1, false, on_ack,
                                           &state, &packet_id, &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.acks, 1, 5000));
    CHECK(wait_for(&state.messages, 2, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[0] == packet_id);
    CHECK(state.ack_result[0] == JOBS_RESULT_OK);
    CHECK(state.payload_len == 1 && state.payload[0] == '2');
    pthread_mutex_unlock(&state.lock);

    /* Asynchronous subscribe: the ack gives the granted QoS. */
    packet_id = 0;
    CHECK_RC(jobs_connection_subscribe_async(conn, async_filter, 0, NULL, NULL, on_ack, &state,
                                             &packet_id, &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    CHECK(wait_for(&state.acks, 2, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[1] == packet_id);
    CHECK(state.ack_result[1] == JOBS_RESULT_OK);
    CHECK(state.ack_granted[1] == 0);
    pthread_mutex_unlock(&state.lock);

    /* Counters saw the traffic. */
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_PUBLISHED, &value), JOBS_RESULT_OK);
    CHECK(value >= 2);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_RECEIVED, &value), JOBS_RESULT_OK);
    CHECK(value >= 2);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_RECONNECTS, &value), JOBS_RESULT_OK);
    CHECK(value == 0);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_DROPPED, &value), JOBS_RESULT_OK);
    CHECK(value == 0);

    /* Unsubscribe, blocking and asynchronous. */
    CHECK_RC(jobs_connection_unsubscribe(conn, filter, &delivery), JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_SENT);
    packet_id = 0;
    CHECK_RC(jobs_connection_unsubscribe_async(conn, async_filter, on_ack, &state, &packet_id,
                                               &delivery),
             JOBS_RESULT_OK);
    CHECK(packet_id != 0);
    CHECK(wait_for(&state.acks, 3, 5000));
    pthread_mutex_lock(&state.lock);
    CHECK(state.ack_packet_id[2] == packet_id);
    CHECK(state.ack_result[2] == JOBS_RESULT_OK);
    pthread_mutex_unlock(&state.lock);

    /* Disconnect; a publish while offline goes to the (default, unbounded) queue. */
    CHECK_RC(jobs_connection_disconnect(conn), JOBS_RESULT_OK);
    CHECK(wait_for_state(conn, JOBS_CONNECTION_STATE_DISCONNECTED, 5000));
    CHECK(wait_for(&state.offline, 1, 5000));
    delivery = 77;
    CHECK_RC(jobs_connection_publish(conn, topic, (const uint8_t *)"q", 1, 1, false, &delivery),
             JOBS_RESULT_OK);
    CHECK(delivery == JOBS_DELIVERY_QUEUED);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &value), JOBS_RESULT_OK);
    CHECK(value == 1);

    jobs_connection_free(conn); /* drops the queued request; no callback runs after this */
    pthread_mutex_lock(&state.lock);
    CHECK(state.bad_user_data == 0);
    CHECK(state.acks == 3);
    pthread_mutex_unlock(&state.lock);
}

int main(int argc, char **argv) {
    const char *host = NULL;
    uint16_t port = 0;

    test_server(argc, argv, &host, &port);
    memset(&state, 0, sizeof state);
    pthread_mutex_init(&state.lock, NULL);

    /* No call on this thread has failed yet. */
    CHECK(jobs_last_error_message(NULL, 0) == 0);

    test_result_strings();
    test_version();
    test_last_error_buffer();
    test_config_args();
    test_connection_new_args();
    test_connection_args();
    test_jobs_config_and_client_new_args();
    test_jobs_client_args();
    test_jobs_topics_and_messages();
    test_round_trip(host, port);

    pthread_mutex_destroy(&state.lock);
    return test_finish("test_api_args");
}
