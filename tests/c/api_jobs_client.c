/*
 * Bad input at the jobs client API (jobs_config_set_thing_name and friends,
 * jobs_client_new*, subscriptions, jobs_send_*), on clients that never connect: each failing
 * call returns exactly the documented code, leaves out-parameters untouched and a non-empty
 * last-error message on this thread.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

static void ignore_message(void *user_data, const struct jobs_message *message) {
    (void)user_data;
    (void)message;
}

static void test_jobs_config_and_client_new_args(void) {
    jobs_config *cfg = NULL;
    jobs_client *client = (jobs_client *)&test_passed;
    jobs_client *const sentinel = client;
    char name[200];

    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    if (cfg == NULL) return;

    /* jobs_config_set_thing_name: [a-zA-Z0-9:_-]{1,128} */
    CHECK_FAILS(jobs_config_set_thing_name(NULL, "thing"), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_thing_name(cfg, TEST_BAD_UTF8_TRUNCATED), JOBS_RESULT_INVALID_UTF8);
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
    jobs_client *client = (jobs_client *)&test_passed;
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
    CHECK_FAILS(jobs_client_new_with_connection(conn, TEST_BAD_UTF8, NULL, 0, &client),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_client_new_with_connection(conn, "thing", TEST_BAD_UTF8_TRUNCATED, 0, &client),
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
                                         JOBS_REPLY_TYPE_ACCEPTED, TEST_BAD_UTF8_TRUNCATED, ignore_message,
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
                                 TEST_BAD_UTF8, &delivery),
                JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_unsubscribe(client, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED,
                                 "bad job id", &delivery),
                JOBS_RESULT_INVALID_JOB_ID);
    CHECK(delivery == 77);

    /* jobs_send_query */
    CHECK_FAILS(jobs_send_query(NULL, JOBS_TOPIC_TYPE_GET_PENDING, NULL, &delivery),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_send_query(client, 8, NULL, &delivery), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_send_query(client, JOBS_TOPIC_TYPE_DESCRIBE, TEST_BAD_UTF8_TRUNCATED, &delivery),
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
    CHECK_FAILS(jobs_send_start_next(client, TEST_BAD_UTF8, 0, &delivery), JOBS_RESULT_INVALID_UTF8);
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
    CHECK_FAILS(jobs_send_update(client, TEST_BAD_UTF8, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false,
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
    CHECK_FAILS(jobs_send_describe(client, TEST_BAD_UTF8_TRUNCATED, 0, true, &delivery),
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

int main(void) {
    test_jobs_config_and_client_new_args();
    test_jobs_client_args();
    return test_finish();
}
