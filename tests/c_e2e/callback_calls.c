/*
 * Blocking calls from inside message callbacks (the Python SDK deadlocks there): inside the
 * start-next/accepted callback a blocking jobs subscription (waits for SUBACK) and a QoS 1
 * update (waits for PUBACK); inside the update/accepted callback a blocking plain subscription,
 * a QoS 1 publish, the final update, an unsubscribe and a describe.
 *
 * Usage: callback_calls HOST PORT THING JOB   (JOB is QUEUED for THING)
 */
#include "check.h"

#define ECHO_TOPIC "e2e/callback/echo"

static struct test_seen seen;
static jobs_client *client = NULL;
static const char *job = NULL;
static uint64_t version = 0, execution = 0;
static uint32_t rc_sub = 99, rc_update1 = 99, rc_conn_sub = 99, rc_publish = 99, rc_update2 = 99,
                rc_unsub = 99, rc_describe = 99;
static uint32_t d_sub = 99, d_update1 = 99, d_publish = 99;
static int update_accepted = 0;
static int echoes = 0;
static bool done = false;
static double longest_call = 0.0;

static uint32_t timed(uint32_t rc, double started) {
    double took = test_now() - started;
    if (took > longest_call) longest_call = took;
    return rc;
}

static void on_echo(void *ud, const char *topic, size_t topic_len, const uint8_t *payload,
                    size_t payload_len) {
    (void)ud;
    test_seen_lock(&seen);
    if (topic_len == strlen(ECHO_TOPIC) && strcmp(topic, ECHO_TOPIC) == 0 && payload_len == 2 &&
        memcmp(payload, "hi", 2) == 0)
        echoes++;
    test_seen_unlock(&seen);
}

static void on_update_accepted(void *ud, const jobs_message *m) {
    double t0;
    int n;
    uint32_t r;
    (void)ud;
    test_seen_record(&seen, m);
    test_seen_lock(&seen);
    n = ++update_accepted;
    test_seen_unlock(&seen);
    if (n == 1) {
        jobs_connection *conn = jobs_client_connection(client);
        uint8_t granted = 9;
        t0 = test_now();
        r = timed(jobs_connection_subscribe(conn, ECHO_TOPIC, 1, on_echo, NULL, &granted, NULL), t0);
        test_seen_lock(&seen);
        rc_conn_sub = r;
        test_seen_unlock(&seen);
        t0 = test_now();
        r = timed(jobs_connection_publish(conn, ECHO_TOPIC, (const uint8_t *)"hi", 2, 1, false,
                                          &d_publish),
                  t0);
        test_seen_lock(&seen);
        rc_publish = r;
        test_seen_unlock(&seen);
        t0 = test_now();
        r = timed(jobs_send_update(client, job, JOBS_STATUS_SUCCEEDED, "{\"from\":\"callback\"}",
                                   (uint64_t)jobs_message_version_number(m), (uint64_t)execution,
                                   true, false, 0, NULL),
                  t0);
        test_seen_lock(&seen);
        rc_update2 = r;
        test_seen_unlock(&seen);
    } else if (n == 2) {
        t0 = test_now();
        r = timed(jobs_unsubscribe(client, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, job,
                                   NULL),
                  t0);
        test_seen_lock(&seen);
        rc_unsub = r;
        test_seen_unlock(&seen);
        t0 = test_now();
        r = timed(jobs_send_describe(client, job, 0, false, NULL), t0);
        test_seen_lock(&seen);
        rc_describe = r;
        done = true;
        test_seen_unlock(&seen);
    }
}

static void on_start_next_accepted(void *ud, const jobs_message *m) {
    double t0;
    uint32_t r1, r2, dd1 = 99, dd2 = 99;
    (void)ud;
    test_seen_record(&seen, m);
    if (!jobs_message_has_execution(m)) return;
    version = jobs_message_version_number(m);
    execution = jobs_message_execution_number(m);
    /* Blocking subscription from inside a callback: waits for SUBACK. */
    t0 = test_now();
    r1 = timed(jobs_create_subscription(client, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED,
                                        job, on_update_accepted, NULL, &dd1),
               t0);
    /* Blocking QoS 1 send from inside a callback: waits for PUBACK. */
    t0 = test_now();
    r2 = timed(jobs_send_update(client, job, JOBS_STATUS_IN_PROGRESS, "{\"from\":\"callback\"}",
                                (uint64_t)version, (uint64_t)execution, true, false, 0, &dd2),
               t0);
    test_seen_lock(&seen);
    rc_sub = r1;
    d_sub = dd1;
    rc_update1 = r2;
    d_update1 = dd2;
    test_seen_unlock(&seen);
}

int main(int argc, char **argv) {
    double end;
    bool finished = false;
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB\n", argv[0]);
        return 2;
    }
    job = argv[4];
    test_seen_init(&seen);
    client = test_connected_client(argv[1], argv[2], "e2e-callback", argv[3]);
    if (client == NULL) return test_finish();
    CHECK_RC(jobs_create_subscription(client, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED,
                                    NULL, on_start_next_accepted, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_send_start_next(client, NULL, 0, NULL), JOBS_RESULT_OK);

    end = test_now() + 20.0;
    while (test_now() < end) {
        test_seen_lock(&seen);
        finished = done && echoes >= 1;
        test_seen_unlock(&seen);
        if (finished) break;
        test_sleep_ms(5);
    }
    CHECK(finished);
    test_seen_lock(&seen);
    CHECK_RC(rc_sub, JOBS_RESULT_OK);
    CHECK(d_sub == JOBS_DELIVERY_SENT);
    CHECK_RC(rc_update1, JOBS_RESULT_OK);
    CHECK(d_update1 == JOBS_DELIVERY_SENT);
    CHECK_RC(rc_conn_sub, JOBS_RESULT_OK);
    CHECK_RC(rc_publish, JOBS_RESULT_OK);
    CHECK(d_publish == JOBS_DELIVERY_SENT);
    CHECK_RC(rc_update2, JOBS_RESULT_OK);
    CHECK_RC(rc_unsub, JOBS_RESULT_OK);
    CHECK_RC(rc_describe, JOBS_RESULT_OK);
    CHECK(update_accepted == 2);
    CHECK(echoes == 1);
    CHECK(version >= 1 && execution >= 1);
    printf("ok blocking subscribe, publish, update, unsubscribe and describe inside callbacks "
           "(longest call %.3f s)\n",
           longest_call);
    test_seen_unlock(&seen);

    CHECK_RC(jobs_client_disconnect(client), JOBS_RESULT_OK);
    jobs_client_free(client);
    return test_finish();
}
