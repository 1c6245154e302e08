/*
 * DescribeJobExecution of `$next` with and without a pending job (jobs_message_has_execution),
 * a describe of a named job without its document, and of an unknown job (ResourceNotFound).
 * Two things share one connection: EMPTY has no job, BUSY has JOB queued.
 *
 * Usage: describe_next HOST PORT EMPTY BUSY JOB
 */
#include "check.h"

static struct test_seen empty_seen, busy_seen;
static char busy_doc[256];
static bool busy_doc_null_on_named = false;
static int named_accepted = 0;

static void on_empty(void *ud, const jobs_message *m) {
    (void)ud;
    test_seen_record(&empty_seen, m);
}

static void on_busy_next(void *ud, const jobs_message *m) {
    size_t len = 0;
    const char *doc = jobs_message_job_document(m, &len);
    (void)ud;
    test_seen_lock(&busy_seen);
    snprintf(busy_doc, sizeof busy_doc, "%s", doc ? doc : "");
    test_seen_unlock(&busy_seen);
    test_seen_record(&busy_seen, m);
}

static void on_busy_named(void *ud, const jobs_message *m) {
    (void)ud;
    test_seen_lock(&busy_seen);
    if (jobs_message_reply_type(m) == JOBS_REPLY_TYPE_ACCEPTED) {
        named_accepted++;
        busy_doc_null_on_named = jobs_message_job_document(m, NULL) == NULL;
    }
    test_seen_unlock(&busy_seen);
    test_seen_record(&busy_seen, m);
}

int main(int argc, char **argv) {
    jobs_config *cfg;
    jobs_connection *conn = NULL;
    jobs_client *empty = NULL, *busy = NULL;
    const char *job;
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT EMPTY BUSY JOB\n", argv[0]);
        return 2;
    }
    job = argv[5];
    test_seen_init(&empty_seen);
    test_seen_init(&busy_seen);
    cfg = test_tcp_config(argv[1], argv[2], "e2e-describe", NULL);
    CHECK(cfg != NULL);
    if (cfg == NULL) return test_finish();
    CHECK_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return test_finish();
    CHECK_RC(jobs_connection_connect(conn), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_new_with_connection(conn, argv[3], "tok-empty", 1, &empty), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_new_with_connection(conn, argv[4], "tok-busy", 1, &busy), JOBS_RESULT_OK);
    if (empty == NULL || busy == NULL) return test_finish();

    CHECK_RC(jobs_create_subscription(empty, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD,
                                    "$next", on_empty, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD,
                                    "$next", on_busy_next, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD, job,
                                    on_busy_named, NULL, NULL),
           JOBS_RESULT_OK);

    /* $next with nothing pending: accepted, no execution. */
    CHECK_RC(jobs_send_describe(empty, "$next", 0, true, NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 1,
                             10));
    test_seen_lock(&empty_seen);
    CHECK(!empty_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    CHECK(empty_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE][0] == '\0');
    CHECK(empty_seen.last_status[JOBS_TOPIC_TYPE_DESCRIBE] == JOBS_STATUS_NOT_SET);
    test_seen_unlock(&empty_seen);
    printf("ok $next without a pending job: accepted, has_execution=false\n");

    /* $next with a pending job: the execution, QUEUED, with its document. The same query
     * through jobs_send_query works too. */
    CHECK_RC(jobs_send_describe(busy, "$next", 0, true, NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 1,
                             10));
    test_seen_lock(&busy_seen);
    CHECK(busy_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    CHECK(strcmp(busy_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE], job) == 0);
    CHECK(busy_seen.last_status[JOBS_TOPIC_TYPE_DESCRIBE] == JOBS_STATUS_QUEUED);
    CHECK(busy_seen.last_version[JOBS_TOPIC_TYPE_DESCRIBE] == 1);
    CHECK(strstr(busy_doc, "\"operation\"") != NULL);
    test_seen_unlock(&busy_seen);
    printf("ok $next with a pending job: %s QUEUED, document %s\n", job, busy_doc);
    CHECK_RC(jobs_send_query(busy, JOBS_TOPIC_TYPE_DESCRIBE, "$next", NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 2,
                             10));

    /* The named job without its document. */
    CHECK_RC(jobs_send_describe(busy, job, 0, false, NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 3,
                             10));
    test_seen_lock(&busy_seen);
    CHECK(named_accepted == 1);
    CHECK(busy_doc_null_on_named);
    CHECK(busy_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    CHECK(strcmp(busy_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE], job) == 0);
    test_seen_unlock(&busy_seen);
    printf("ok describe %s with includeJobDocument=false: no document\n", job);

    /* An unknown job: rejected, ResourceNotFound (on its own subscription). */
    CHECK_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED,
                                    "never-created", on_busy_named, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_send_describe(busy, "never-created", 0, true, NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED, 1,
                             10));
    test_seen_lock(&busy_seen);
    CHECK(busy_seen.last_rejection[JOBS_TOPIC_TYPE_DESCRIBE] ==
              JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    test_seen_unlock(&busy_seen);
    printf("ok describe of an unknown job: ResourceNotFound\n");

    /* Each client saw only its own thing's replies. */
    CHECK(test_seen_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED) == 1);
    CHECK(test_seen_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED) == 0);

    jobs_client_free(empty);
    jobs_client_free(busy);
    CHECK_RC(jobs_connection_disconnect(conn), JOBS_RESULT_OK);
    jobs_connection_free(conn);
    return test_finish();
}
