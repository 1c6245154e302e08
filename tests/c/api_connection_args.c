/*
 * Bad input at jobs_connection_new and at every jobs_connection_* entry point, on connections
 * that never connect: each failing call returns exactly the documented code, leaves
 * out-parameters untouched and a non-empty last-error message on this thread.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

/* jobs_connection_new refusals: *out stays untouched on every error. */
static void test_connection_new_args(void) {
    jobs_config *cfg = NULL;
    jobs_connection *conn = (jobs_connection *)&test_failed;
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
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_WEBSOCKET_TLS), TEST_WEBSOCKET_RC);
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
    CHECK_FAILS(jobs_connection_publish(conn, TEST_BAD_UTF8, payload, 1, 1, false, &delivery),
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
    CHECK_FAILS(jobs_connection_publish_async(conn, TEST_BAD_UTF8_TRUNCATED, payload, 1, 1, false, NULL, NULL,
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
    CHECK_FAILS(jobs_connection_subscribe(conn, TEST_BAD_UTF8, 1, NULL, NULL, &granted, &delivery),
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
    CHECK_FAILS(jobs_connection_subscribe_async(conn, TEST_BAD_UTF8_TRUNCATED, 1, NULL, NULL, NULL, NULL,
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
    CHECK_FAILS(jobs_connection_unsubscribe(conn, TEST_BAD_UTF8, &delivery), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, "", &delivery), JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_unsubscribe(conn, "a/#/b", &delivery), JOBS_RESULT_INVALID_TOPIC);
    CHECK_FAILS(jobs_connection_unsubscribe_async(NULL, "t/#", NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe_async(conn, NULL, NULL, NULL, &packet_id, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_connection_unsubscribe_async(conn, TEST_BAD_UTF8_TRUNCATED, NULL, NULL, &packet_id,
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

int main(void) {
    test_connection_new_args();
    test_connection_args();
    return test_finish();
}
