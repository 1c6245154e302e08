/*
 * jobs_topic_build and jobs_topic_parse at their edges (buffer sizes, bad names, bad UTF-8),
 * and every jobs_message_* accessor given NULL.
 *
 * Plain C99; also compiled as C++11 by the test runners to prove the header is C++-clean.
 */
#include "check.h"

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
    CHECK_FAILS(jobs_topic_build(TEST_BAD_UTF8_TRUNCATED, JOBS_TOPIC_TYPE_GET_PENDING,
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
                                 TEST_BAD_UTF8, buf, sizeof buf, &needed),
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
    CHECK_FAILS(jobs_topic_parse(TEST_BAD_UTF8, &topic_type, &reply_type, thing, sizeof thing, job,
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
    CHECK(jobs_message_version_number(NULL) == 0);
    CHECK(jobs_message_execution_number(NULL) == 0);
    CHECK(jobs_message_job_document(NULL, &len) == NULL);
    CHECK(jobs_message_status_details(NULL) == NULL);
    CHECK(jobs_message_client_token(NULL) == NULL);
    CHECK(jobs_message_rejection_code(NULL) == JOBS_REJECTION_CODE_NONE);
    CHECK(jobs_message_rejection_text(NULL) == NULL);
    CHECK(jobs_message_rejection_message(NULL) == NULL);
}

int main(void) {
    test_jobs_topics_and_messages();
    return test_finish();
}
