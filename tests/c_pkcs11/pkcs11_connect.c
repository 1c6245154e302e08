/*
 * Mutual TLS with the key in a PKCS#11 token, from C: every bad argument to
 * jobs_config_set_pkcs11 gets its documented code and a message, a wrong PIN fails
 * jobs_client_new with JOBS_RESULT_TLS_CONFIG saying so, and the EC key labelled "thing-ec"
 * connects a jobs client for thing "thing-ec" that reads its one queued job.
 *
 * Usage: pkcs11_connect HOST PORT CA CERT MODULE TOKEN PIN SLOT_ID   (SOFTHSM2_CONF set)
 */
#include "check.h"

static jobs_config *tls_config(char **argv) {
    jobs_config *cfg = NULL;
    CHECK_RC(jobs_config_new(&cfg), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_endpoint(cfg, argv[1], (uint16_t)strtol(argv[2], NULL, 10)),
             JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_client_id(cfg, "thing-ec"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_thing_name(cfg, "thing-ec"), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_jobs_qos(cfg, 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 10000, 10000), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_ca_file(cfg, argv[3]), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_cert_file(cfg, argv[4]), JOBS_RESULT_OK);
    return cfg;
}

static void good_args(jobs_pkcs11_args *a, char **argv) {
    CHECK_RC(jobs_pkcs11_args_init(a), JOBS_RESULT_OK);
    a->module_path = argv[5];
    a->token_label = argv[6];
    a->user_pin = argv[7];
    a->key_label = "thing-ec";
}

int main(int argc, char **argv) {
    jobs_config *cfg;
    jobs_client *client = NULL;
    jobs_pkcs11_args a;
    jobs_get_pending_args g;
    jobs_reply *reply = NULL;
    char long_pin[257];
    char msg[512];
    static const uint8_t key_id[1] = {0x02};

    if (argc != 9) {
        fprintf(stderr, "usage: pkcs11_connect HOST PORT CA CERT MODULE TOKEN PIN SLOT_ID\n");
        return 2;
    }

    /* ---- bad input: each its own code and a message */
    CHECK_FAILS(jobs_pkcs11_args_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_pkcs11_args_init(&a), JOBS_RESULT_OK);
    CHECK(a.struct_size == sizeof a && !a.has_slot_id && a.module_path == NULL &&
          a.key_id == NULL && a.key_id_len == 0);
    cfg = tls_config(argv);
    good_args(&a, argv);
    CHECK_FAILS(jobs_config_set_pkcs11(NULL, &a), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    a.struct_size = sizeof a - 1;
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_STRUCT_SIZE);
    good_args(&a, argv);
    a.module_path = NULL;
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_NULL_ARGUMENT);
    good_args(&a, argv);
    a.user_pin = NULL;
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_NULL_ARGUMENT);
    good_args(&a, argv);
    a.token_label = NULL; /* and no slot id */
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_NULL_ARGUMENT);
    good_args(&a, argv);
    a.key_label = TEST_BAD_UTF8;
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_UTF8);
    good_args(&a, argv);
    a.key_label = "";
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_ARGUMENT);
    jobs_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "key label is empty") != NULL);
    good_args(&a, argv);
    memset(long_pin, '1', sizeof long_pin - 1);
    long_pin[sizeof long_pin - 1] = '\0';
    a.user_pin = long_pin;
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_ARGUMENT);
    jobs_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "user PIN is 256 bytes: at most 255") != NULL);
    good_args(&a, argv);
    a.has_slot_id = true; /* and a token label */
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_ARGUMENT);
    good_args(&a, argv);
    a.key_id_len = 1; /* with a NULL key_id */
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_NULL_ARGUMENT);
    good_args(&a, argv);
    a.module_path = "";
    CHECK_FAILS(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_INVALID_ARGUMENT);
    printf("ok bad input\n");

    /* ---- a wrong PIN fails creation, saying so */
    good_args(&a, argv);
    a.user_pin = "0000";
    CHECK_RC(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_client_new(cfg, &client), JOBS_RESULT_TLS_CONFIG);
    CHECK(client == NULL);
    jobs_last_error_message(msg, sizeof msg);
    CHECK(strstr(msg, "the PIN is incorrect") != NULL);
    printf("ok wrong pin\n");

    /* ---- the right one, by slot id and key id: a jobs round trip */
    good_args(&a, argv);
    a.token_label = NULL;
    a.has_slot_id = true;
    a.slot_id = (uint64_t)strtoull(argv[8], NULL, 10);
    a.key_id = key_id;
    a.key_id_len = sizeof key_id;
    CHECK_RC(jobs_config_set_pkcs11(cfg, &a), JOBS_RESULT_OK);
    /* The library copied everything: the caller's buffers may change now. */
    memset(&a, 0, sizeof a);
    CHECK_RC(jobs_client_new(cfg, &client), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (client != NULL) {
        CHECK_RC(jobs_client_connect(client), JOBS_RESULT_OK);
        jobs_get_pending_args_init(&g);
        CHECK_RC(jobs_get_pending(client, &g, &reply), JOBS_RESULT_OK);
        if (reply != NULL) {
            const jobs_message *m = jobs_reply_message(reply);
            CHECK(jobs_message_reply_type(m) == JOBS_REPLY_TYPE_ACCEPTED);
            CHECK(jobs_message_pending_count(m, JOBS_STATUS_QUEUED) == 1);
            jobs_reply_free(reply);
            printf("ok get-pending\n");
        }
        jobs_client_free(client);
    }
    return test_finish();
}
