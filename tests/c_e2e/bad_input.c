/*
 * Bad input at every jobs entry point of the header returns the documented result code, and
 * nothing reaches the server (the Rust harness checks that the emulator received no PUBLISH
 * and no SUBSCRIBE from this client). Also the edge cases of jobs_topic_build/jobs_topic_parse
 * (the NULL-message accessors are checked by tests/c/api_topics_and_messages.c).
 *
 * Usage: bad_input HOST PORT   (client id "e2e-bad-input", thing "bad-input-thing")
 */
#include "check.h"

#define THING "bad-input-thing"
#define BAD_UTF8 "\xff\xfe"

static void handler(void *ud, const jobs_message *m) {
    (void)ud;
    (void)m;
}

static void constructors(const char *host, const char *port) {
    jobs_config *cfg = NULL;
    jobs_client *c = NULL;
    jobs_connection *conn = NULL;
    char long_name[200];
    char long_token[80];

    CHECK_RC(jobs_client_new(NULL, &c), JOBS_RESULT_NULL_ARGUMENT);
    cfg = test_tcp_config(host, port, "e2e-bad-ctor", NULL);
    CHECK(cfg != NULL);
    if (cfg == NULL) return;
    CHECK_RC(jobs_client_new(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    /* No thing name set: incomplete. */
    CHECK_RC(jobs_client_new(cfg, &c), JOBS_RESULT_INCOMPLETE_CONFIG);
    CHECK(c == NULL);

    /* Thing names and QoS are checked when set. */
    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    CHECK_RC(jobs_config_set_thing_name(NULL, THING), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_thing_name(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_thing_name(cfg, ""), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, "has space"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, "a/b"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, "a+b"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, "a#"), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, long_name), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_config_set_thing_name(cfg, BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    long_name[128] = '\0'; /* exactly 128: fine */
    CHECK_RC(jobs_config_set_thing_name(cfg, long_name), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_thing_name(cfg, "ok:thing_name-1"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_jobs_qos(NULL, 1), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_config_set_jobs_qos(cfg, 2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_config_set_jobs_qos(cfg, 0), JOBS_RESULT_OK);

    /* A config without endpoint: incomplete. */
    {
        jobs_config *no_ep = NULL;
        CHECK_RC(jobs_config_new(&no_ep), JOBS_RESULT_OK);
        CHECK_RC(jobs_config_set_thing_name(no_ep, THING), JOBS_RESULT_OK);
        CHECK_RC(jobs_client_new(no_ep, &c), JOBS_RESULT_INCOMPLETE_CONFIG);
        CHECK(c == NULL);
        jobs_config_free(no_ep);
    }

    /* Over a shared connection. */
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return;
    memset(long_token, 't', 65);
    long_token[65] = '\0';
    CHECK_RC(jobs_client_new_with_connection(NULL, THING, NULL, 1, &c), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_new_with_connection(conn, NULL, NULL, 1, &c), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_new_with_connection(conn, THING, NULL, 1, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_new_with_connection(conn, "bad thing", NULL, 1, &c),
           JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_client_new_with_connection(conn, "", NULL, 1, &c), JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_client_new_with_connection(conn, BAD_UTF8, NULL, 1, &c), JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_client_new_with_connection(conn, THING, long_token, 1, &c),
           JOBS_RESULT_INVALID_CLIENT_TOKEN);
    CHECK_RC(jobs_client_new_with_connection(conn, THING, BAD_UTF8, 1, &c), JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_client_new_with_connection(conn, THING, NULL, 2, &c),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(c == NULL);
    long_token[64] = '\0'; /* exactly 64 bytes: fine */
    CHECK_RC(jobs_client_new_with_connection(conn, THING, long_token, 1, &c), JOBS_RESULT_OK);
    jobs_client_free(c);
    jobs_connection_free(conn);
}

static void requests(jobs_client *c) {
    char long_id[80];
    char many[1024];
    char long_value[1100];
    int i;
    size_t n;
    uint32_t d = 77;

    memset(long_id, 'j', 65);
    long_id[65] = '\0';

    /* NULL client everywhere. */
    CHECK_RC(jobs_client_connect(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_disconnect(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(jobs_client_connection(NULL) == NULL);
    CHECK_RC(jobs_create_subscription(NULL, JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST,
                                    NULL, handler, NULL, NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_create_subscription_async(NULL, JOBS_TOPIC_TYPE_NOTIFY_NEXT,
                                          JOBS_REPLY_TYPE_REQUEST, NULL, handler, NULL, NULL,
                                          NULL, NULL, NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_unsubscribe(NULL, JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST, NULL,
                            NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_set_fallback_callback(NULL, handler, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_query(NULL, JOBS_TOPIC_TYPE_GET_PENDING, NULL, NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_start_next(NULL, NULL, 0, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_update(NULL, "job-1", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_describe(NULL, "job-1", 0, true, NULL), JOBS_RESULT_NULL_ARGUMENT);
    jobs_client_free(NULL); /* a no-op */

    /* Subscriptions: callback required, enums in range, valid combinations and job ids. */
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST, NULL,
                                    NULL, NULL, NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_create_subscription(c, 8, JOBS_REPLY_TYPE_REQUEST, NULL, handler, NULL, NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_create_subscription(c, 0xFFFFFFFFu, JOBS_REPLY_TYPE_REQUEST, NULL, handler, NULL,
                                    NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_START_NEXT, 5, NULL, handler, NULL, NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_NOTIFY, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, "a/b",
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "$next",
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, long_id,
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, BAD_UTF8,
                                    handler, NULL, NULL),
           JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_create_subscription_async(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED,
                                          NULL, handler, NULL, NULL, NULL, NULL, NULL),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_create_subscription_async(c, 9, JOBS_REPLY_TYPE_ACCEPTED, NULL, handler, NULL,
                                          NULL, NULL, NULL, NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_unsubscribe(c, 8, JOBS_REPLY_TYPE_REQUEST, NULL, NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_unsubscribe(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, NULL, NULL),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_unsubscribe(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "bad id", NULL),
           JOBS_RESULT_INVALID_JOB_ID);

    /* Queries: no wildcard publish, no notify request, no update without status. */
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_WILDCARD, NULL, &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_DESCRIBE, "+", &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_NOTIFY, NULL, &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_NOTIFY_NEXT, NULL, &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_UPDATE, "job-1", &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_DESCRIBE, NULL, &d),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_DESCRIBE, "bad id", &d), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_query(c, JOBS_TOPIC_TYPE_DESCRIBE, BAD_UTF8, &d), JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_send_query(c, 8, NULL, &d), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(d == 77); /* untouched on failure */

    /* Start-next: status details and step timeout. */
    CHECK_RC(jobs_send_start_next(c, "not json", 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "[\"a\"]", 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "{\"n\":1}", 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "{\"o\":{\"x\":\"y\"}}", 0, NULL),
           JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "{\"bad key\":\"v\"}", 0, NULL),
           JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "{\"k\":\"\"}", 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, "{\"k\":\"a\\nb\"}", 0, NULL),
           JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, BAD_UTF8, 0, NULL), JOBS_RESULT_INVALID_UTF8);
    n = (size_t)snprintf(many, sizeof many, "{");
    for (i = 0; i < 11; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(many + n, sizeof many - n, "}");
    CHECK_RC(jobs_send_start_next(c, many, 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    memset(long_value, 'v', sizeof long_value);
    memcpy(long_value, "{\"k\":\"", 6);
    memcpy(long_value + 6 + 1025, "\"}", 3); /* a 1025-character value */
    CHECK_RC(jobs_send_start_next(c, long_value, 0, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_start_next(c, NULL, 10081, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_send_start_next(c, NULL, -1, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_send_start_next(c, NULL, -5, NULL), JOBS_RESULT_INVALID_ARGUMENT);

    /* Update: job id, status, details, step timeout. */
    CHECK_RC(jobs_send_update(c, NULL, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_update(c, "$next", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_update(c, "+", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_update(c, "", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_update(c, "a/b", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_update(c, long_id, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_update(c, BAD_UTF8, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_NOT_SET, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_QUEUED, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_CANCELED, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_TIMED_OUT, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_REMOVED, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_UNKNOWN, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS);
    /* No jobs_status value at all: an out-of-range enum (documented). */
    CHECK_RC(jobs_send_update(c, "job-1", 42, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_IN_PROGRESS, "{\"k\":7}", 0, 0, false, false,
                            0, NULL),
           JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_IN_PROGRESS, "{", 0, 0, false, false, 0, NULL),
           JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, -2,
                            NULL),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_send_update(c, "job-1", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 10081,
                            NULL),
           JOBS_RESULT_INVALID_ARGUMENT);

    /* Describe. */
    CHECK_RC(jobs_send_describe(c, NULL, 0, true, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_send_describe(c, "+", 0, true, NULL), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_describe(c, "", 0, true, NULL), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_describe(c, "$nexT", 0, true, NULL), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_describe(c, long_id, 0, true, NULL), JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_send_describe(c, BAD_UTF8, 0, true, NULL), JOBS_RESULT_INVALID_UTF8);
}

static void topics(void) {
    char buf[300];
    char thing[129 + 1];
    char job[65 + 1];
    char big_thing[129];
    char big_job[65];
    size_t needed = 0;
    uint32_t t = 77, r = 77;

    /* Build. */
    CHECK_RC(jobs_topic_build(NULL, JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_REQUEST, NULL, buf,
                            sizeof buf, &needed),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_topic_build("bad thing", JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_REQUEST,
                            NULL, buf, sizeof buf, &needed),
           JOBS_RESULT_INVALID_THING_NAME);
    CHECK_RC(jobs_topic_build(BAD_UTF8, JOBS_TOPIC_TYPE_GET_PENDING, JOBS_REPLY_TYPE_REQUEST, NULL,
                            buf, sizeof buf, &needed),
           JOBS_RESULT_INVALID_UTF8);
    CHECK_RC(jobs_topic_build("t", 8, JOBS_REPLY_TYPE_REQUEST, NULL, buf, sizeof buf, &needed),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_GET_PENDING, 5, NULL, buf, sizeof buf, &needed),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, NULL, buf,
                            sizeof buf, &needed),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REJECTED, NULL, buf,
                            sizeof buf, &needed),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_UNRECOGNIZED, JOBS_REPLY_TYPE_REQUEST, NULL, buf,
                            sizeof buf, &needed),
           JOBS_RESULT_INVALID_TOPIC_COMBINATION);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "$next", buf,
                            sizeof buf, &needed),
           JOBS_RESULT_INVALID_JOB_ID);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, "j", buf,
                            sizeof buf, &needed),
           JOBS_RESULT_OK);
    CHECK(strcmp(buf, "$aws/things/t/jobs/j/update/rejected") == 0);
    CHECK(needed == strlen("$aws/things/t/jobs/j/update/rejected"));
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD, "$next", buf,
                            sizeof buf, NULL),
           JOBS_RESULT_OK);
    CHECK(strcmp(buf, "$aws/things/t/jobs/$next/get/#") == 0);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_WILDCARD, JOBS_REPLY_TYPE_REQUEST, NULL, buf,
                            sizeof buf, NULL),
           JOBS_RESULT_OK);
    CHECK(strcmp(buf, "$aws/things/t/jobs/#") == 0);
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST, NULL, buf,
                            sizeof buf, NULL),
           JOBS_RESULT_OK);
    CHECK(strcmp(buf, "$aws/things/t/jobs/notify-next") == 0);
    /* Buffer too small (no room for the NUL): INVALID_ARGUMENT, and the size is told. */
    needed = 0;
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL, buf,
                            strlen("$aws/things/t/jobs/start-next/accepted"), &needed),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(needed == strlen("$aws/things/t/jobs/start-next/accepted"));
    needed = 0;
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL, NULL,
                            0, &needed),
           JOBS_RESULT_INVALID_ARGUMENT);
    CHECK(needed == strlen("$aws/things/t/jobs/start-next/accepted"));
    CHECK_RC(jobs_topic_build("t", JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL, buf,
                            needed + 1, NULL),
           JOBS_RESULT_OK);
    /* The longest topic: 128-character thing, 64-character job, update/rejected = 226. */
    memset(big_thing, 'T', 128);
    big_thing[128] = '\0';
    memset(big_job, 'J', 64);
    big_job[64] = '\0';
    CHECK_RC(jobs_topic_build(big_thing, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, big_job,
                            buf, sizeof buf, &needed),
           JOBS_RESULT_OK);
    CHECK(needed == 226 && strlen(buf) == 226);

    /* Parse. */
    CHECK_RC(jobs_topic_parse(NULL, &t, &r, thing, sizeof thing, job, sizeof job),
           JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_topic_parse("$aws/things/t/jobs/#", &t, &r, thing, sizeof thing, job, sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("$aws/things/t/jobs/+/update", &t, &r, thing, sizeof thing, job,
                            sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("$aws/things/t/shadow/update", &t, &r, thing, sizeof thing, job,
                            sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("$aws/things/t/jobs/j/bogus", &t, &r, thing, sizeof thing, job,
                            sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("$aws/things/t/jobs/$next/update", &t, &r, thing, sizeof thing, job,
                            sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("", &t, &r, thing, sizeof thing, job, sizeof job),
           JOBS_RESULT_INVALID_TOPIC);
    CHECK_RC(jobs_topic_parse("$aws/things/" BAD_UTF8 "/jobs/get", &t, &r, thing, sizeof thing, job,
                            sizeof job),
           JOBS_RESULT_INVALID_UTF8);
    CHECK(t == 77 && r == 77); /* untouched on failure */
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/job-7/update/accepted", &t, &r, thing,
                            sizeof thing, job, sizeof job),
           JOBS_RESULT_OK);
    CHECK(t == JOBS_TOPIC_TYPE_UPDATE && r == JOBS_REPLY_TYPE_ACCEPTED);
    CHECK(strcmp(thing, "my-thing") == 0 && strcmp(job, "job-7") == 0);
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/$next/get/rejected", &t, &r, thing,
                            sizeof thing, job, sizeof job),
           JOBS_RESULT_OK);
    CHECK(t == JOBS_TOPIC_TYPE_DESCRIBE && r == JOBS_REPLY_TYPE_REJECTED);
    CHECK(strcmp(job, "$next") == 0);
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/notify-next", &t, &r, thing, sizeof thing,
                            job, sizeof job),
           JOBS_RESULT_OK);
    CHECK(t == JOBS_TOPIC_TYPE_NOTIFY_NEXT && r == JOBS_REPLY_TYPE_REQUEST && job[0] == '\0');
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/get", &t, &r, NULL, 0, NULL, 0),
           JOBS_RESULT_OK);
    CHECK(t == JOBS_TOPIC_TYPE_GET_PENDING && r == JOBS_REPLY_TYPE_REQUEST);
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/get/get", NULL, NULL, NULL, 0, job,
                            sizeof job),
           JOBS_RESULT_OK);
    CHECK(strcmp(job, "get") == 0); /* Describe of the job named "get" */
    /* Truncation: NUL-terminated within the given length. */
    CHECK_RC(jobs_topic_parse("$aws/things/my-thing/jobs/job-7/get", &t, &r, thing, 3, job, 2),
           JOBS_RESULT_OK);
    CHECK(strcmp(thing, "my") == 0 && strcmp(job, "j") == 0);
    /* A round trip of the longest topic. */
    CHECK_RC(jobs_topic_build(big_thing, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, big_job,
                            buf, sizeof buf, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_topic_parse(buf, &t, &r, thing, sizeof thing, job, sizeof job), JOBS_RESULT_OK);
    CHECK(strcmp(thing, big_thing) == 0 && strcmp(job, big_job) == 0);
}

int main(int argc, char **argv) {
    jobs_client *c = NULL;
    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    constructors(argv[1], argv[2]);
    c = test_connected_client(argv[1], argv[2], "e2e-bad-input", THING);
    if (c == NULL) return test_finish();
    requests(c);
    topics();
    /* The fallback callback accepts NULL (removal). */
    CHECK_RC(jobs_client_set_fallback_callback(c, handler, NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_set_fallback_callback(c, NULL, NULL), JOBS_RESULT_OK);
    printf("ok bad input refused at every jobs entry point\n");
    CHECK_RC(jobs_client_disconnect(c), JOBS_RESULT_OK);
    jobs_client_free(c);
    return test_finish();
}
