/*
 * DescribeJobExecution of `$next` with and without a pending job (jobs_message_has_execution),
 * a describe of a named job without its document, and of an unknown job (ResourceNotFound).
 * Two things share one connection: EMPTY has no job, BUSY has JOB queued.
 *
 * Usage: describe_next HOST PORT EMPTY BUSY JOB
 */
#include "e2e.h"

static struct e2e_seen empty_seen, busy_seen;
static char busy_doc[256];
static bool busy_doc_null_on_named = false;
static int named_accepted = 0;

static void on_empty(void *ud, const jobs_message *m) {
    (void)ud;
    e2e_record(&empty_seen, m);
}

static void on_busy_next(void *ud, const jobs_message *m) {
    size_t len = 0;
    const char *doc = jobs_message_job_document(m, &len);
    (void)ud;
    e2e_lock(&busy_seen);
    snprintf(busy_doc, sizeof busy_doc, "%s", doc ? doc : "");
    e2e_unlock(&busy_seen);
    e2e_record(&busy_seen, m);
}

static void on_busy_named(void *ud, const jobs_message *m) {
    (void)ud;
    e2e_lock(&busy_seen);
    if (jobs_message_reply_type(m) == JOBS_REPLY_TYPE_ACCEPTED) {
        named_accepted++;
        busy_doc_null_on_named = jobs_message_job_document(m, NULL) == NULL;
    }
    e2e_unlock(&busy_seen);
    e2e_record(&busy_seen, m);
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
    e2e_seen_init(&empty_seen);
    e2e_seen_init(&busy_seen);
    cfg = e2e_config(argv[1], argv[2], "e2e-describe", NULL);
    E2E_CHECK(cfg != NULL);
    if (cfg == NULL) return e2e_finish();
    E2E_RC(jobs_connection_new(cfg, &conn), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (conn == NULL) return e2e_finish();
    E2E_RC(jobs_connection_connect(conn), JOBS_RESULT_OK);
    E2E_RC(jobs_client_new_with_connection(conn, argv[3], "tok-empty", 1, &empty), JOBS_RESULT_OK);
    E2E_RC(jobs_client_new_with_connection(conn, argv[4], "tok-busy", 1, &busy), JOBS_RESULT_OK);
    if (empty == NULL || busy == NULL) return e2e_finish();

    E2E_RC(jobs_create_subscription(empty, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD,
                                    "$next", on_empty, NULL, NULL),
           JOBS_RESULT_OK);
    E2E_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD,
                                    "$next", on_busy_next, NULL, NULL),
           JOBS_RESULT_OK);
    E2E_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_WILDCARD, job,
                                    on_busy_named, NULL, NULL),
           JOBS_RESULT_OK);

    /* $next with nothing pending: accepted, no execution. */
    E2E_RC(jobs_send_describe(empty, "$next", 0, true, NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 1,
                             10));
    e2e_lock(&empty_seen);
    E2E_CHECK(!empty_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    E2E_CHECK(empty_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE][0] == '\0');
    E2E_CHECK(empty_seen.last_status[JOBS_TOPIC_TYPE_DESCRIBE] == JOBS_STATUS_NOT_SET);
    e2e_unlock(&empty_seen);
    printf("ok $next without a pending job: accepted, has_execution=false\n");

    /* $next with a pending job: the execution, QUEUED, with its document. The same query
     * through jobs_send_query works too. */
    E2E_RC(jobs_send_describe(busy, "$next", 0, true, NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 1,
                             10));
    e2e_lock(&busy_seen);
    E2E_CHECK(busy_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    E2E_CHECK(strcmp(busy_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE], job) == 0);
    E2E_CHECK(busy_seen.last_status[JOBS_TOPIC_TYPE_DESCRIBE] == JOBS_STATUS_QUEUED);
    E2E_CHECK(busy_seen.last_version[JOBS_TOPIC_TYPE_DESCRIBE] == 1);
    E2E_CHECK(strstr(busy_doc, "\"operation\"") != NULL);
    e2e_unlock(&busy_seen);
    printf("ok $next with a pending job: %s QUEUED, document %s\n", job, busy_doc);
    E2E_RC(jobs_send_query(busy, JOBS_TOPIC_TYPE_DESCRIBE, "$next", NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 2,
                             10));

    /* The named job without its document. */
    E2E_RC(jobs_send_describe(busy, job, 0, false, NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED, 3,
                             10));
    e2e_lock(&busy_seen);
    E2E_CHECK(named_accepted == 1);
    E2E_CHECK(busy_doc_null_on_named);
    E2E_CHECK(busy_seen.last_has_execution[JOBS_TOPIC_TYPE_DESCRIBE]);
    E2E_CHECK(strcmp(busy_seen.last_job[JOBS_TOPIC_TYPE_DESCRIBE], job) == 0);
    e2e_unlock(&busy_seen);
    printf("ok describe %s with includeJobDocument=false: no document\n", job);

    /* An unknown job: rejected, ResourceNotFound (on its own subscription). */
    E2E_RC(jobs_create_subscription(busy, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED,
                                    "never-created", on_busy_named, NULL, NULL),
           JOBS_RESULT_OK);
    E2E_RC(jobs_send_describe(busy, "never-created", 0, true, NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&busy_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED, 1,
                             10));
    e2e_lock(&busy_seen);
    E2E_CHECK(busy_seen.last_rejection[JOBS_TOPIC_TYPE_DESCRIBE] ==
              JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    e2e_unlock(&busy_seen);
    printf("ok describe of an unknown job: ResourceNotFound\n");

    /* Each client saw only its own thing's replies. */
    E2E_CHECK(e2e_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_ACCEPTED) == 1);
    E2E_CHECK(e2e_count(&empty_seen, JOBS_TOPIC_TYPE_DESCRIBE, JOBS_REPLY_TYPE_REJECTED) == 0);

    jobs_client_free(empty);
    jobs_client_free(busy);
    E2E_RC(jobs_connection_disconnect(conn), JOBS_RESULT_OK);
    jobs_connection_free(conn);
    return e2e_finish();
}
