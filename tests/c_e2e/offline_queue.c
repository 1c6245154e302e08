/*
 * Offline sends are queued (JOBS_DELIVERY_QUEUED) and delivered after the reconnect.
 *
 * The program starts JOB, prints READY-TO-CUT and waits for the connection to drop (the Rust
 * harness calls emu.cut(CLIENT_ID) when it reads that line). While offline (the reconnect
 * backoff is 2 s) it sends an IN_PROGRESS update and a describe: both return OK with
 * JOBS_DELIVERY_QUEUED and the queue counter shows them. After the automatic reconnect the
 * update is accepted; the final SUCCEEDED goes out live.
 *
 * Usage: offline_queue HOST PORT THING JOB CLIENT_ID
 */
#include "check.h"

static struct test_seen seen;

static void on_reply(void *ud, const jobs_message *m) {
    (void)ud;
    test_seen_record(&seen, m);
}

static void on_online(void *ud) {
    (void)ud;
    test_seen_lock(&seen);
    seen.online++;
    test_seen_unlock(&seen);
}

static void on_offline(void *ud) {
    (void)ud;
    test_seen_lock(&seen);
    seen.offline++;
    test_seen_unlock(&seen);
}

static bool wait_flag(int *flag, int n, double timeout_s) {
    double end = test_now() + timeout_s;
    for (;;) {
        int v;
        test_seen_lock(&seen);
        v = *flag;
        test_seen_unlock(&seen);
        if (v >= n) return true;
        if (test_now() > end) return false;
        test_sleep_ms(5);
    }
}

int main(int argc, char **argv) {
    jobs_config *cfg;
    jobs_client *c = NULL;
    jobs_connection *conn;
    uint32_t d = 99, d2 = 99;
    uint64_t queued = 0, reconnects = 0;
    uint64_t v;
    const char *job;
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB CLIENT_ID\n", argv[0]);
        return 2;
    }
    job = argv[4];
    test_seen_init(&seen);
    cfg = test_tcp_config(argv[1], argv[2], argv[5], argv[3]);
    CHECK(cfg != NULL);
    if (cfg == NULL) return test_finish();
    CHECK_RC(jobs_config_set_on_online_offline(cfg, on_online, on_offline), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_backoff(cfg, 2000, 4000, 10000, false), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_offline_queue(cfg, -1, JOBS_DROP_POLICY_DROP_NEWEST), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_draining_rate(cfg, 0), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_new(cfg, &c), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (c == NULL) return test_finish();
    conn = jobs_client_connection(c);
    CHECK(conn != NULL);
    CHECK_RC(jobs_client_connect(c), JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                    on_reply, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_WILDCARD, job,
                                    on_reply, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, job,
                                    on_reply, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_send_start_next(c, NULL, 0, &d), JOBS_RESULT_OK);
    CHECK(d == JOBS_DELIVERY_SENT);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, 1, 10));
    test_seen_lock(&seen);
    v = seen.last_version[JOBS_TOPIC_TYPE_START_NEXT];
    CHECK(strcmp(seen.last_job[JOBS_TOPIC_TYPE_START_NEXT], job) == 0);
    test_seen_unlock(&seen);

    /* Let the harness cut the connection. */
    printf("READY-TO-CUT\n");
    fflush(stdout);
    CHECK(wait_flag(&seen.offline, 1, 20.0));
    CHECK(jobs_connection_get_state(conn) != JOBS_CONNECTION_STATE_ONLINE);

    /* Offline: queued, not sent. */
    d = 99;
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, "{\"sent\":\"while-offline\"}",
                            (uint64_t)v, 1, true, false, 0, &d),
           JOBS_RESULT_OK);
    CHECK(d == JOBS_DELIVERY_QUEUED);
    CHECK_RC(jobs_send_describe(c, job, 0, false, &d2), JOBS_RESULT_OK);
    CHECK(d2 == JOBS_DELIVERY_QUEUED);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &queued), JOBS_RESULT_OK);
    CHECK(queued == 2);
    printf("ok offline: update and describe queued (queue holds %llu)\n",
           (unsigned long long)queued);
    fflush(stdout);

    /* Back online by itself; the queue drains, the replies arrive. */
    CHECK(wait_flag(&seen.online, 1, 30.0));
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 1, 20));
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 1, 20));
    test_seen_lock(&seen);
    CHECK(seen.last_version[JOBS_TOPIC_TYPE_UPDATE] == v + 1);
    CHECK(strstr(seen.last_details[JOBS_TOPIC_TYPE_DESCRIBE], "while-offline") != NULL);
    test_seen_unlock(&seen);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_QUEUED, &queued), JOBS_RESULT_OK);
    CHECK(queued == 0);
    CHECK_RC(jobs_connection_counter(conn, JOBS_COUNTER_RECONNECTS, &reconnects), JOBS_RESULT_OK);
    CHECK(reconnects == 1);
    printf("ok after the reconnect: the queued update was accepted (version %lld)\n",
           (long long)(v + 1));

    /* Online again: sent live. */
    d = 99;
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_SUCCEEDED, "{\"sent\":\"after-reconnect\"}",
                            (uint64_t)(v + 1), 1, false, false, 0, &d),
           JOBS_RESULT_OK);
    CHECK(d == JOBS_DELIVERY_SENT);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 2, 10));
    CHECK(test_seen_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED) == 0);

    CHECK_RC(jobs_client_disconnect(c), JOBS_RESULT_OK);
    jobs_client_free(c);
    return test_finish();
}
